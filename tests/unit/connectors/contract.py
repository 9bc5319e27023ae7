"""The connector contract as reusable checks and input strategies.

test_contract.py holds every registered connector (connectors.SOURCES) to it; the property tests
of one source's own format (test_conn_civil.py) use the same checks.
"""

from __future__ import annotations

import json
from functools import cache

from hypothesis import strategies as st

from connectors import Context, Decoded, Reason, Rejection, SourceSpec
from hub.domain.events import DossierEvent
from tests.samples import SAMPLES
from tests.unit.connectors.connector_ctx import make_ctx

CTX = make_ctx()
# mutating the ~600 KB sample line would only slow the properties down; the sample-line test
# decodes it whole
SEED_MAX_BYTES = 5000

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


# cached: every hypothesis example draws from them, and re-reading the file would cost more
# than the decoding under test
@cache
def sample_lines(spec: SourceSpec) -> tuple[tuple[int, bytes], ...]:
    """(1-based line number, bytes) of every non-blank line of the source's sample file."""
    data = (SAMPLES / spec.sample).read_bytes()
    return tuple(
        (number, line.rstrip(b"\r"))
        for number, line in enumerate(data.split(b"\n"), start=1)
        if line.strip()
    )


@cache
def seeds(spec: SourceSpec) -> tuple[bytes, ...]:
    """The source's sample lines the properties start from."""
    return tuple(raw for _, raw in sample_lines(spec) if len(raw) < SEED_MAX_BYTES)


@cache
def json_seeds(spec: SourceSpec) -> tuple[object, ...]:
    """The seeds that are JSON, parsed (none for a source whose format is not JSON); the mutations
    copy what they change, so the parsed values are shared safely."""
    values = []
    for raw in seeds(spec):
        try:
            values.append(json.loads(raw))
        except ValueError:
            continue
    return tuple(values)


def check(out: Decoded, spec: SourceSpec, ctx: Context = CTX) -> None:
    """A well-formed outcome of any input: it says something, rejections name a reason the hub
    knows and never INTERNAL (a bug), events are the source's and carry the message's provenance."""
    assert isinstance(out, Decoded)
    assert out.events or out.rejections or out.informational, "an outcome must say something"
    assert out.informational >= 0
    for r in out.rejections:
        assert isinstance(r, Rejection)
        assert isinstance(r.reason, Reason) and r.reason is not Reason.INTERNAL, r
        assert isinstance(r.message, str) and r.message, r
        assert r.item is None or r.item >= 0, r
    for ev in out.events:
        assert isinstance(ev, DossierEvent)
        assert ev.event_id and ev.dossier_code, ev
        assert ev.source is spec.source, ev
        provenance = (ev.source_topic, ev.source_partition, ev.source_offset)
        assert provenance == (ctx.topic or None, ctx.partition, ctx.offset), ev


def mutate_bytes(raw: bytes, data: st.DataObject) -> bytes:
    """One to four byte edits: flip, cut, insert or delete."""
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del out[pos:]
        elif op == "insert":
            out[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif out:
            del out[pos : pos + data.draw(st.integers(1, 16))]
    return bytes(out)


def mutate_json(value: object, data: st.DataObject) -> object:
    """Replace, drop or re-case one field somewhere in a JSON value."""
    if isinstance(value, dict) and value:
        key = data.draw(st.sampled_from(sorted(value)))
        op = data.draw(st.sampled_from(["replace", "drop", "recase", "descend"]))
        copy = dict(value)
        if op == "replace":
            copy[key] = data.draw(JSON_VALUES)
        elif op == "drop":
            del copy[key]
        elif op == "recase":
            copy[key.swapcase()] = copy.pop(key)
        else:
            copy[key] = mutate_json(copy[key], data)
        return copy
    if isinstance(value, list) and value:
        index = data.draw(st.integers(0, len(value) - 1))
        copy_list = list(value)
        copy_list[index] = mutate_json(copy_list[index], data)
        return copy_list
    return data.draw(JSON_VALUES)
