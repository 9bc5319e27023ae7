"""tests/contract_samples/ is a byte-identical copy of the contract's sample feed.

The repository carries the copy so that it tests standing alone; this check is what keeps the copy
honest wherever the contract itself is at hand: `MOTCUA_CONTRACT_SAMPLES` when set (CI sets it),
else `../shared/contracts/samples` beside the checkout. Standing alone, there is nothing to
compare with and the check is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.samples import SAMPLES as COPY

REPO = Path(__file__).resolve().parents[1]
ENV = "MOTCUA_CONTRACT_SAMPLES"


def _contract() -> Path | None:
    configured = os.environ.get(ENV)
    if configured:
        # named explicitly, so a wrong path is an error, never a silent skip
        return Path(configured)
    beside = REPO.parent / "shared" / "contracts" / "samples"
    return beside if beside.is_dir() else None


def _files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_the_copy_is_the_contract_s_sample_feed() -> None:
    contract = _contract()
    if contract is None:
        pytest.skip(
            f"the contract's samples are not here ({ENV} unset, no ../shared/contracts/samples):"
            " the repository stands alone, nothing to compare its copy with"
        )
    assert contract.is_dir(), f"{ENV}={contract} is not a directory"
    want, have = _files(contract), _files(COPY)
    assert want, f"the contract's samples at {contract} hold no file"
    missing = sorted(want.keys() - have.keys())
    extra = sorted(have.keys() - want.keys())
    differing = sorted(name for name in want.keys() & have.keys() if want[name] != have[name])
    problems = [
        f"{label}: {', '.join(names)}"
        for label, names in (
            ("missing from the copy", missing),
            ("not in the contract", extra),
            ("differing bytes", differing),
        )
        if names
    ]
    assert not problems, (
        f"{COPY.relative_to(REPO)}/ is not a byte-identical copy of {contract}: "
        + "; ".join(problems)
    )
