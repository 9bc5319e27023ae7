"""Fuzzing at scale: random inputs to each connector and to the judge, for as long as one likes.

    python -m bench.fuzz --seconds 60                  # every target, 60 s each
    python -m bench.fuzz --target civil --inputs 200000 --seed 7
    python -m bench.fuzz --replay bench/results/fuzz-crashes/<file>   # re-run a saved input

Connectors (`onestop`, `land`, `tax`, `civil`): random bytes and mutations of the contract's sample
lines (tests/contract_samples/): bit flips, byte edits, truncation, splicing two lines, repeating
a slice, sizes around MOTCUA_MAX_MESSAGE_BYTES; for JSON, fields replaced by odd values (huge
numbers, extreme dates, lone surrogates, long text), dropped or re-cased, deep nesting, huge item
lists; for XML, entity and DTD tricks, deep nesting, huge text, odd encodings and field values.
Each input goes through what the intake does with a message (hub/stream/ingest.py `decode` with
the settings' bounds, the security code and a `now`; the metrics; its dead letters; each event's
key, Avro encoding, and its decoding as the judge will do it).

Judge (`judge`): record mixes on one judge on a dict table, as tests/unit/test_fuzz_judge.py
feeds it: valid events over a pool of 48 dossiers (bursts past the bounds, redeliveries, times
near years 1 and 9999), the claims, withdrawals and forwarded events of its own outbox fed back,
clock records under both clocks (sessions of 50 000 records alternate MOTCUA_CLOCK=wall and
event), stray claims, withdrawals and marks, and garbage (random bytes, corrupt Avro, broken
JSON, unknown kinds, keys that are not UTF-8, internal or too long).

An *escaped* exception is one the hub would count as a bug: for a connector, any exception out of
what the intake does, or an INTERNAL dead letter (ingest.decode turned a connector's exception
into one); for the judge, anything `Judge.handle` raises but what the judging loop dead-letters
with its reason (a DeadLetterError: ProtocolError, DossierFull, CalendarRangeError; a
CodecError), and a failure it caught at a dossier's deadline (logged, motcua_judge_failures).
A *violation* is an outcome that breaks the contract without an exception (a bound not applied,
an outcome that says nothing, a refused record that changed the table, an unloadable state).
Each kind is counted by signature (exception type and the innermost frame of hub/ or connectors/)
and its first inputs saved under bench/results/fuzz-crashes/. The exit status is 1 if anything
escaped or was violated.

A progress line every --every seconds and a summary at the end: inputs, inputs/s, outcomes,
peak RSS (getrusage ru_maxrss) and current RSS (/proc/self/status VmRSS), and for the judge the
size of its table and deadline index. The run is reproducible from its seed (printed; --seed).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from connectors import SOURCES, Decoded, Reason, SourceSpec
from hub.codec import (
    CodecError,
    decode_alert,
    decode_event,
    encode_alert,
    encode_event,
    event_codec,
)
from hub.domain.alerts import Alert
from hub.domain.calendar import TZ, WorkingCalendar
from hub.domain.catalog import Catalog
from hub.domain.engine import Engine
from hub.domain.events import CivilStatus, DossierEvent, EventKind, Source
from hub.errors import DeadLetterError
from hub.metrics import HubMetrics
from hub.protocol import (
    KIND_CLAIM,
    KIND_CLOCK,
    KIND_EVENT,
    KIND_WITHDRAW,
    is_internal_key,
)
from hub.settings import DATA_DIR, ClockMode, Settings
from hub.simulate.cli import DEFAULT_SECURITY_CODE
from hub.stream.ingest import count, dead_letters, decode
from hub.stream.judge import Judge
from hub.stream.state import DossierState, to_ms

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "contract_samples"
CRASHES = ROOT / "bench" / "results" / "fuzz-crashes"
TARGETS = ("onestop", "land", "tax", "civil", "judge")
SAVED_PER_SIGNATURE = 3  # inputs kept per distinct failure: enough to compare, not a disk full
# what hub/stream/judging.py dead-letters with its reason; anything else is a judge failure
DOCUMENTED = (DeadLetterError, CodecError)
# the intake's clock: just after the sample feed's last message, so its lines lie in the window
INTAKE_NOW = datetime(2026, 12, 6, 18, 0, tzinfo=TZ)
CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
CATALOG = Catalog.from_file(DATA_DIR / "procedures.csv")


# -- memory -------------------------------------------------------------------------------------
def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def current_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# -- the tally ----------------------------------------------------------------------------------
@dataclass
class Tally:
    """What one target met: inputs, outcomes, and failures by signature."""

    target: str
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # "escaped: ..." / "violated: ..."
    saved: dict[str, list[str]] = field(default_factory=dict)
    mutators: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None  # set when the target's run is over
    extra: dict[str, Any] = field(default_factory=dict)  # the judge's table and index sizes

    @property
    def escaped(self) -> int:
        return sum(n for sig, n in self.failures.items() if sig.startswith("escaped"))

    @property
    def violated(self) -> int:
        return sum(n for sig, n in self.failures.items() if sig.startswith("violated"))

    def fail(self, signature: str, save: Callable[[Path], None]) -> None:
        self.failures[signature] += 1
        paths = self.saved.setdefault(signature, [])
        if len(paths) < SAVED_PER_SIGNATURE:
            CRASHES.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha1(signature.encode()).hexdigest()[:10]
            path = CRASHES / f"{self.target}-{digest}-{len(paths) + 1}"
            save(path)
            paths.append(str(path))
            if len(paths) == 1:  # the first of a kind, as it happens; the summary has the rest
                print(f"  [{self.target}] {signature} -> {path}*", flush=True)

    @property
    def elapsed(self) -> float:
        return (self.ended or time.perf_counter()) - self.started

    def line(self) -> str:
        elapsed = self.elapsed
        rate = self.inputs / elapsed if elapsed > 0 else 0.0
        text = (
            f"[{self.target}] {elapsed:6.1f} s  {self.inputs:>9} inputs  {rate:>8.0f}/s  "
            f"escaped {self.escaped}  violated {self.violated}  "
            f"RSS peak {peak_rss_mib():.0f} MiB, now {current_rss_mib():.0f} MiB"
        )
        if self.extra:
            text += "  " + "  ".join(f"{k} {v}" for k, v in self.extra.items())
        return text

    def summary(self) -> dict[str, Any]:
        elapsed = self.elapsed
        return {
            "target": self.target,
            "inputs": self.inputs,
            "seconds": round(elapsed, 1),
            "inputs_per_s": round(self.inputs / elapsed, 1) if elapsed > 0 else None,
            "escaped": self.escaped,
            "violated": self.violated,
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "current_rss_mib": round(current_rss_mib(), 1),
            "outcomes": dict(self.outcomes.most_common()),
            "failures": dict(self.failures.most_common()),
            "saved": self.saved,
            "mutators": dict(self.mutators.most_common()),
            **self.extra,
        }


def signature(exc: BaseException, tb: Any = None) -> str:
    """The exception's type and the innermost frame of the project's code that raised it."""
    where = "?"
    for frame in traceback.extract_tb(tb if tb is not None else exc.__traceback__):
        path = Path(frame.filename)
        if any(part in ("hub", "connectors") for part in path.parts):
            parts = path.parts
            top = max(i for i, p in enumerate(parts) if p in ("hub", "connectors"))
            where = f"{'/'.join(parts[top:])}:{frame.lineno}"
    return f"{type(exc).__name__} at {where}"


def _text(exc: BaseException | None, tb: Any = None) -> str:
    if exc is None:
        return ""
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


# -- interesting values -------------------------------------------------------------------------
ODD_TEXT = [
    "", " ", "0", "-1", "null", "NaN", "1e400", "9" * 5000, "x" * 100_000, "\u0000", "\ufeff",
    "Đăng ký", "\U0001f600" * 50, "<", "]]>", "&amp;", "A" * 201,
    "0001-01-01T00:00:00+07:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59.999999+14:00", "2026-02-30T08:00:00+07:00", "2026-11-03T25:61:00+07:00",
    "2026-11-03", "2026-11-03T08:30:00", "01/01/0001 00:00", "31/12/9999 23:59",
    "29/02/2026 08:00", "03/11/2026 8:5", "1793948100000", "2026-11-03T08:30:00+07:00",
    "03/11/2026 08:30", "TIEP_NHAN", "DA_CO_KET_QUA", "TU_CHOI",
]  # fmt: skip
ODD_NUMBERS: list[Any] = [
    0, -1, 1, 2, 10, 11, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30, -(10**30), 1.5, -0.0,
    1e308, -1e308, 5e-324, 1793948100000, 1793948100000.5, -62135596800001, 253402300800000,
]  # fmt: skip


def odd_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(ODD_TEXT)
    if roll < 0.55:
        return rng.choice(ODD_NUMBERS)
    if roll < 0.65:
        return rng.choice([None, True, False])
    if roll < 0.7:
        return "\ud800"  # a lone surrogate: json.dumps writes it as an escape
    if depth < 3 and roll < 0.85:
        return [odd_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if depth < 3:
        return {
            rng.choice(ODD_TEXT[:8]): odd_json(rng, depth + 1) for _ in range(rng.randint(0, 3))
        }
    return rng.choice(ODD_TEXT)


# -- connector inputs ---------------------------------------------------------------------------
def sample_lines(spec: SourceSpec) -> list[bytes]:
    data = (SAMPLES / spec.sample).read_bytes()
    return [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]


class Mutator:
    """Inputs for one connector: random bytes, or mutations of its sample lines."""

    def __init__(self, spec: SourceSpec, rng: random.Random, limit: int) -> None:
        self.spec = spec
        self.rng = rng
        self.limit = limit  # MOTCUA_MAX_MESSAGE_BYTES
        self.seeds = sample_lines(spec)
        # the ~600 KB one-stop line is over the limit: a seed for size tricks, not for edits
        self.small = [s for s in self.seeds if len(s) < 20_000] or self.seeds
        self.json: list[Any] = []
        for raw in self.small:
            try:
                self.json.append(json.loads(raw))
            except ValueError:
                continue
        self.xml = spec.source is Source.CIVIL
        ops: list[tuple[str, Callable[[], bytes], int]] = [
            ("sample", self.sample, 2),
            ("random", self.random_bytes, 4),
            ("flip", self.flip, 6),
            ("edit", self.edit, 6),
            ("truncate", self.truncate, 4),
            ("splice", self.splice, 4),
            ("repeat", self.repeat, 2),
            ("oversize", self.oversize, 1),
        ]
        if self.json:
            ops += [
                ("json-field", self.json_field, 14),
                ("json-deep", self.json_deep, 2),
                ("json-items", self.json_items, 2),
                ("json-shape", self.json_shape, 3),
            ]
        if self.xml:
            ops += [
                ("xml-field", self.xml_field, 14),
                ("xml-entity", self.xml_entity, 3),
                ("xml-deep", self.xml_deep, 2),
                ("xml-big", self.xml_big, 1),
                ("xml-shape", self.xml_shape, 4),
            ]
        self.names = [name for name, _, _ in ops]
        self.makers = [make for _, make, _ in ops]
        self.weights = [w for _, _, w in ops]

    def next(self) -> tuple[str, bytes]:
        i = self.rng.choices(range(len(self.makers)), self.weights)[0]
        return self.names[i], self.makers[i]()

    # any format
    def seed(self) -> bytes:
        return self.rng.choice(self.small)

    def sample(self) -> bytes:
        return self.rng.choice(self.seeds)

    def random_bytes(self) -> bytes:
        return self.rng.randbytes(self.rng.choice([0, 1, 2, 8, 64, 512, 4096]))

    def flip(self) -> bytes:
        out = bytearray(self.seed())
        for _ in range(self.rng.randint(1, 8)):
            if out:
                out[self.rng.randrange(len(out))] ^= 1 << self.rng.randrange(8)
        return bytes(out)

    def edit(self) -> bytes:
        out = bytearray(self.seed())
        for _ in range(self.rng.randint(1, 4)):
            pos = self.rng.randrange(len(out) + 1)
            op = self.rng.random()
            if op < 0.4 and out:
                out[min(pos, len(out) - 1)] = self.rng.randrange(256)
            elif op < 0.7:
                out[pos:pos] = self.rng.choice(
                    [self.rng.randbytes(self.rng.randint(1, 8)), b'"', b"<", b"\\", b"\x00"]
                )
            else:
                del out[pos : pos + self.rng.randint(1, 16)]
        return bytes(out)

    def truncate(self) -> bytes:
        raw = self.seed()
        return raw[: self.rng.randrange(len(raw) + 1)]

    def splice(self) -> bytes:
        a, b = self.seed(), self.seed()
        return a[: self.rng.randrange(len(a) + 1)] + b[self.rng.randrange(len(b) + 1) :]

    def repeat(self) -> bytes:
        raw = self.seed()
        i = self.rng.randrange(len(raw) + 1)
        j = min(len(raw), i + self.rng.randint(1, 64))
        times = self.rng.choice([2, 10, 1000, self.limit // max(1, j - i) + 1])
        return raw[:i] + raw[i:j] * times + raw[j:]

    def oversize(self) -> bytes:
        """At the size limit, one byte either side, or far past it (the 600 KB sample line)."""
        if self.rng.random() < 0.2:
            return max(self.seeds, key=len)
        raw = self.seed()
        pad = self.limit - len(raw) + self.rng.choice([-1, 0, 1])
        return raw + b" " * max(0, pad)

    # JSON
    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=self.rng.random() < 0.5).encode(
            "utf-8", "surrogatepass"
        )

    def json_field(self) -> bytes:
        value = self.rng.choice(self.json)
        for _ in range(self.rng.randint(1, 3)):
            value = self.mutate_json(value)
        return self.dumps(value)

    def mutate_json(self, value: Any) -> Any:
        rng = self.rng
        if isinstance(value, dict) and value:
            key = rng.choice(sorted(value))
            copy = dict(value)
            op = rng.random()
            if op < 0.45:
                copy[key] = odd_json(rng)
            elif op < 0.55:
                del copy[key]
            elif op < 0.65:
                copy[key.swapcase()] = copy.pop(key)
            elif op < 0.7:
                copy[rng.choice(ODD_TEXT[:8])] = odd_json(rng)
            else:
                copy[key] = self.mutate_json(copy[key])
            return copy
        if isinstance(value, list) and value:
            copy_list = list(value)
            i = rng.randrange(len(copy_list))
            op = rng.random()
            if op < 0.6:
                copy_list[i] = self.mutate_json(copy_list[i])
            elif op < 0.8:
                copy_list.insert(i, copy_list[i])
            else:
                del copy_list[i]
            return copy_list
        return odd_json(rng)

    def json_deep(self) -> bytes:
        """Nesting far past any parser's recursion limit, alone or in a field."""
        depth = self.rng.choice([100, 1000, 10_000, 100_000])
        opener, closer = self.rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
        deep = opener * depth + b"1" + closer * depth
        if self.rng.random() < 0.5:
            return deep
        value = self.rng.choice(self.json)
        target = value[0] if isinstance(value, list) and value else value
        if isinstance(target, dict) and target:
            key = self.rng.choice(sorted(target))
            marker = "\x01deep\x01"
            copy = dict(target)
            copy[key] = marker
            doc = self.dumps([copy] if isinstance(value, list) else copy)
            return doc.replace(json.dumps(marker).encode(), deep)
        return deep

    def json_items(self) -> bytes:
        """Huge item lists: around MOTCUA_MAX_ITEMS_PER_MESSAGE, and far past it."""
        value = self.rng.choice(self.json)
        n = self.rng.choice([999, 1000, 1001, 5000, 100_000])
        if isinstance(value, list) and value:  # the one-stop envelope is a list of items
            item = value[0] if self.rng.random() < 0.7 else self.mutate_json(value[0])
            if isinstance(item, dict) and self.rng.random() < 0.5:
                # slim items (no long descriptive text), so that 1000 fit under the byte limit
                item = {k: v for k, v in item.items() if not (isinstance(v, str) and len(v) > 30)}
            if n > 5000:
                item = {}  # tiny items: far past the count while under the byte limit
            return self.dumps([item] * self.capped(n, item))
        if isinstance(value, dict):
            key = self.rng.choice(sorted(value)) if value else "x"
            copy = dict(value)
            copy[key] = [copy.get(key)] * self.capped(n, copy.get(key))
            return self.dumps(copy)
        return self.dumps([value] * self.capped(n, value))

    def capped(self, n: int, item: Any) -> int:
        """At most as many copies of `item` as make twice the byte limit: past the limit the
        size alone decides (TOO_LARGE, before parsing), and a bigger input would only measure
        this generator's memory, not the hub's."""
        size = len(json.dumps(item)) + 2
        return max(1, min(n, 2 * self.limit // size + 1))

    def json_shape(self) -> bytes:
        raw = self.seed()
        shapes: list[Callable[[], bytes]] = [
            lambda: b"\xef\xbb\xbf" + raw,  # a byte-order mark
            lambda: b"\xef\xbb\xbf\xef\xbb\xbf" + raw,
            lambda: raw.decode("utf-8").encode("utf-16"),
            lambda: raw.decode("utf-8").encode("latin-1", "replace"),
            lambda: raw + b" trailing",
            lambda: raw + raw,
            lambda: b"[" + raw + b"]",
            lambda: self.dumps(self.rng.choice(self.json)).replace(b"{", b'{"a": 1, "a": 2, ', 1),
            lambda: self.dumps(odd_json(self.rng)),
            lambda: raw.replace(b'"', b"'"),
            lambda: raw.replace(b": ", b': NaN, "z": ', 1),
        ]
        return self.rng.choice(shapes)()

    # XML
    def xml_field(self) -> bytes:
        """One element's text replaced by an odd value (or removed, or doubled)."""
        raw = self.seed()
        text = raw.decode("utf-8", "replace")
        starts = [i for i, ch in enumerate(text) if ch == "<" and text[i + 1 : i + 2].isalpha()]
        if not starts:
            return raw
        start = self.rng.choice(starts)
        name_end = min(
            (j for j in (text.find(">", start), text.find(" ", start)) if j > 0), default=-1
        )
        if name_end < 0:
            return raw
        name = text[start + 1 : name_end]
        close = text.find(f"</{name}>", start)
        if close < 0:
            return raw
        inner_start = text.find(">", start) + 1
        op = self.rng.random()
        if op < 0.7:
            value = self.rng.choice(ODD_TEXT)
            if self.rng.random() < 0.5:
                value = value.replace("&", "&amp;").replace("<", "&lt;")
            out = text[:inner_start] + value + text[close:]
        elif op < 0.8:
            out = text[:start] + text[close + len(name) + 3 :]  # the element gone
        elif op < 0.9:
            element = text[start : close + len(name) + 3]
            out = text[:start] + element * self.rng.choice([2, 3]) + text[close + len(name) + 3 :]
        else:
            out = text[:inner_start] + text[inner_start:close] * 2 + text[close:]
        return out.encode("utf-8", "surrogatepass")

    # (internal DTD subset, what goes into an element's text); defusedxml must refuse each
    ENTITY_TRICKS: tuple[tuple[bytes, bytes], ...] = (
        (  # billion laughs, small
            b'<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">',
            b"&c;",
        ),
        (b'<!ENTITY x SYSTEM "file:///etc/passwd">', b"&x;"),  # an external entity
        (b'<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;', b""),  # an external parameter entity
        (b"<!ELEMENT root ANY>", b""),  # a harmless DTD
        (b"", b"&nbsp;"),  # an undeclared entity
        (b"", b"&#0;"),  # a character XML forbids
        (b"", b"&#x1F600;&#55296;"),  # a surrogate by reference
    )

    def xml_entity(self) -> bytes:
        body = self.seed().split(b"?>", 1)[-1]
        root = body[1 : body.find(b" ")] if body.startswith(b"<") else b"SuKienHoTich"
        subset, use = self.rng.choice(self.ENTITY_TRICKS)
        body = body.replace(b"</CanBo>", use + b"</CanBo>")
        if self.rng.random() < 0.2:  # an external DTD instead
            return (
                b'<?xml version="1.0"?><!DOCTYPE '
                + root
                + b' SYSTEM "http://127.0.0.1:9/x">'
                + body
            )
        doctype = b"<!DOCTYPE " + root + b" [" + subset + b"]>" if subset else b""
        return b'<?xml version="1.0"?>' + doctype + body

    def xml_deep(self) -> bytes:
        raw = self.seed()
        depth = self.rng.choice([100, 1000, 100_000])
        deep = b"<a>" * depth + b"x" + b"</a>" * depth
        at = raw.rfind(b"</")
        return raw[:at] + deep + raw[at:] if at > 0 else deep

    def xml_big(self) -> bytes:
        raw = self.seed()
        size = self.rng.choice([self.limit - len(raw) - 20, self.limit * 2, 100_000])
        return raw.replace(b"</CanBo>", b"x" * max(0, size) + b"</CanBo>", 1)

    def xml_shape(self) -> bytes:
        raw = self.seed()
        body = raw.split(b"?>", 1)[-1]
        shapes: list[Callable[[], bytes]] = [
            lambda: b'<?xml version="1.0" encoding="UTF-16"?>' + body,
            lambda: b'<?xml version="1.0" encoding="latin-1"?>' + body,
            lambda: b'<?xml version="1.0" encoding="x-unknown"?>' + body,
            lambda: b"\xef\xbb\xbf" + raw,
            lambda: raw.decode("utf-8").encode("utf-16"),
            lambda: raw + raw,  # two documents
            lambda: raw.replace(b'xmlns="urn:hotich:sukien:1"', b""),
            lambda: raw.replace(b'xmlns="urn:hotich:sukien:1"', b'xmlns="urn:other"'),
            lambda: raw.replace(b"<MaSuKien>", b'<MaSuKien a="1" a="2">'),
            lambda: raw.replace(b"<CanBo>", b"<CanBo><![CDATA[<x>]]>"),
            lambda: raw.replace(b"<CanBo>", b"<CanBo><!-- c --><?pi x?>"),
            lambda: raw.replace(b"<CoQuan>", b"<CoQuan>\x01"),
            lambda: raw.replace(b"SuKienHoTich", b"Other"),
        ]
        return self.rng.choice(shapes)()


@dataclass
class ConnectorFuzz:
    """One connector, fed as the intake feeds it."""

    spec: SourceSpec
    rng: random.Random
    tally: Tally
    settings: Settings = field(
        default_factory=lambda: Settings(land_security_code=DEFAULT_SECURITY_CODE)
    )
    metrics: HubMetrics = field(default_factory=HubMetrics)
    caught: list[logging.LogRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mutator = Mutator(self.spec, self.rng, self.settings.max_message_bytes)
        # ingest.decode logs a connector's exception and turns it into an INTERNAL dead letter;
        # keep the record (its traceback names the failure) instead of printing it
        logger = logging.getLogger("hub.stream.ingest")
        logger.propagate = False
        logger.handlers = [_Keep(self.caught)]

    def one(self) -> None:
        name, raw = self.mutator.next()
        self.tally.mutators[name] += 1
        self.tally.inputs += 1
        self.caught.clear()
        offset = self.tally.inputs
        try:
            self.run(raw, offset)
        except Exception as exc:
            self.tally.fail(f"escaped: {signature(exc)}", _saver(raw, exc, name, self.spec.name))

    def run(self, raw: bytes, offset: int) -> None:
        cfg, spec = self.settings, self.spec
        # what the intake does with one message (hub/stream/intake.py, _process)
        source, out = decode(cfg, CAL, spec.topic, 0, offset, raw, INTAKE_NOW)
        count(self.metrics, source, out)
        letters = dead_letters(
            out.rejections,
            key=None,
            value=raw,
            topic=spec.topic,
            partition=0,
            offset=offset,
            connector=source,
            failed_at=INTAKE_NOW,
            factor=cfg.deadletter_bytes_factor,
        )
        for ev in out.events:
            ev.dossier_code.encode()  # the event's key
            decode_event(encode_event(ev))  # the intake encodes it, the judge decodes it
        self.classify(raw, out, len(letters))

    def classify(self, raw: bytes, out: Decoded, letters: int) -> None:
        tally, cfg = self.tally, self.settings
        if out.events:
            tally.outcomes["events"] += len(out.events)
            tally.outcomes["messages with events"] += 1
        if out.informational:
            tally.outcomes["informational"] += out.informational
        for reason, n in Counter(r.reason.value for r in out.rejections).items():
            tally.outcomes[f"rejected {reason}"] += n
        problems: list[str] = []
        if any(r.reason is Reason.INTERNAL for r in out.rejections):
            record = self.caught[-1] if self.caught else None
            exc_info = record.exc_info if record is not None else None
            if exc_info and exc_info[1] is not None:
                sig = f"escaped: {signature(exc_info[1], exc_info[2])} (caught as INTERNAL)"
                tally.fail(sig, _saver(raw, exc_info[1], "", self.spec.name, exc_info[2]))
            else:
                tally.fail("escaped: INTERNAL dead letter", _saver(raw, None, "", self.spec.name))
            return
        if not (out.events or out.rejections or out.informational):
            problems.append("an outcome that says nothing")
        if letters > max(1, math.floor(cfg.deadletter_bytes_factor)):
            problems.append(f"{letters} dead letters for one message")
        if len(out.events) > cfg.max_items_per_message:
            problems.append("more events than MOTCUA_MAX_ITEMS_PER_MESSAGE")
        for ev in out.events:
            problems += event_problems(ev, self.spec.source, cfg)
        for problem in problems:
            tally.fail(f"violated: {problem}", _saver(raw, None, problem, self.spec.name))


FREE_TEXT = ("holder_unit", "holder_officer", "procedure_name", "unit_name", "note")
ID_FIELDS = ("event_id", "dossier_code", "onestop_code", "sector_id", "notice_no")
EVENT_TIMES = (
    "event_time",
    "received_at",
    "refused_at",
    "finished_at",
    "returned_at",
    "apology_at",
)
OTHER_TIMES = ("appointment_at", "step_deadline", "new_due_at")


def event_problems(ev: DossierEvent, source: Source, cfg: Settings) -> list[str]:
    """The bounds a connector applies to what it keeps (docs/settings.md, "Bounds")."""
    out = []
    if ev.source is not source:
        out.append("an event of another source")
    for name in FREE_TEXT:
        value = getattr(ev, name)
        if value is not None and len(value) > cfg.max_text_chars:
            out.append(f"{name} longer than MOTCUA_MAX_TEXT_CHARS")
    for name in ID_FIELDS:
        value = getattr(ev, name)
        if value is not None and len(value) > 200:
            out.append(f"{name} longer than 200 characters")
    oldest = INTAKE_NOW - timedelta(days=cfg.max_event_age_days)
    for name in EVENT_TIMES:
        value = getattr(ev, name)
        if value is not None and not oldest <= value <= INTAKE_NOW + timedelta(
            seconds=cfg.max_event_lead_s
        ):
            out.append(f"{name} outside the window of accepted times")
    for name in OTHER_TIMES:
        value = getattr(ev, name)
        if value is not None and not oldest <= value <= INTAKE_NOW + timedelta(
            days=cfg.max_event_age_days
        ):
            out.append(f"{name} outside the window of accepted times")
    return out


class _Keep(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


def _saver(
    raw: bytes, exc: BaseException | None, note: str, target: str, tb: Any = None
) -> Callable[[Path], None]:
    def save(path: Path) -> None:
        path.with_suffix(".bin").write_bytes(raw)
        path.with_suffix(".txt").write_text(
            f"target: {target}\nreplay: python -m bench.fuzz --replay {path.with_suffix('.bin')}\n"
            f"{note}\n{_text(exc, tb)}",
            encoding="utf-8",
        )

    return save


# -- judge records ------------------------------------------------------------------------------
START = datetime(2026, 11, 20, 9, 0, tzinfo=TZ)
CODES = [
    f"000.00.{u:02d}.H49-2611{d:02d}-{n:04d}" for u in (1, 12) for d in (2, 3) for n in range(8)
]
SECTORS = [f"land:VBD-2026-{n:07d}" for n in range(8)] + [
    f"civil:HT.49.2026.{n:06d}" for n in range(8)
]
KEYS = [c.encode() for c in CODES + SECTORS]  # 48 dossiers: the table's size is bounded by them
IDS = [f"e{i}" for i in range(12)]
INBOUND = [f"agency.{s.value}.status:{p}" for s in Source for p in (0, 1)]
SOURCE_OF: dict[EventKind, Source] = {
    EventKind.SNAPSHOT: Source.ONESTOP,
    EventKind.STEP: Source.ONESTOP,
    EventKind.APOLOGY: Source.ONESTOP,
    **{k: Source.LAND for k in EventKind if k.name.startswith("LAND_")},
    **{k: Source.TAX for k in EventKind if k.name.startswith("TAX_")},
    EventKind.CIVIL: Source.CIVIL,
}
ZONES = [TZ, UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))]
# near the ends of what the model accepts: the bugs test_fuzz_judge.py pins live there
EDGE_TIMES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=TZ),
    datetime(1, 1, 3, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
    datetime(9999, 12, 31, 16, 59, tzinfo=TZ),
    datetime(9999, 12, 1, tzinfo=UTC),
]
PROCEDURES = [*sorted(CATALOG.procedures), "9.999999"]
Record = tuple[bytes, int, bytes | None, bytes | None]  # kind, partition, key, value


def partition_of(key: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(key, digest_size=2).digest(), "big") % 3


class JudgeRecords:
    """Random records for the judge, from a seeded generator (see the module's docstring)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.codec_header = event_codec().header

    def time(self) -> datetime:
        rng = self.rng
        roll = rng.random()
        if roll < 0.8:
            base = datetime(2026, 9, 1) + timedelta(seconds=rng.randrange(212 * 86_400))
            return base.replace(tzinfo=rng.choice(ZONES))
        if roll < 0.95:
            base = datetime(1950, 1, 1) + timedelta(days=rng.randrange(73_000))
            return base.replace(tzinfo=UTC)
        return rng.choice(EDGE_TIMES)

    def maybe_time(self, p: float = 0.5) -> datetime | None:
        return self.time() if self.rng.random() < p else None

    def name(self) -> str | None:
        rng = self.rng
        return rng.choice([None, "Tổ thẩm định", "Trần Thị Bình", "UBND xã Bình Minh", "x" * 300])

    def event(self, key: bytes) -> DossierEvent:
        rng = self.rng
        kind = rng.choice(list(EventKind))
        source = SOURCE_OF[kind] if rng.random() < 0.9 else rng.choice(list(Source))
        code = key.decode("utf-8", "replace")
        onestop = rng.choice([None, None, *CODES[:4]])
        sector = rng.choice([None, None, *SECTORS[:4]])
        if code in CODES and rng.random() < 0.3:
            onestop, sector = code, rng.choice(SECTORS)  # an event that claims its sector id
        status = rng.choice([None, *range(1, 11), 0, -1, 99, 2**31 - 1])
        note = rng.choice([None, None, None, "ghi chú", "x" * 3000, "y" * 7000])
        return DossierEvent(
            event_id=rng.choice(IDS) if rng.random() < 0.8 else f"id-{rng.randrange(10**9)}",
            source=source,
            kind=kind,
            dossier_code=code,
            onestop_code=onestop,
            sector_id=sector,
            event_time=self.maybe_time(0.9),
            status=status,
            first_sync=rng.random() < 0.5,
            received_at=self.maybe_time(),
            appointment_at=self.maybe_time(),
            refused_at=self.maybe_time(0.1),
            finished_at=self.maybe_time(0.2),
            returned_at=self.maybe_time(0.1),
            holder_unit=self.name(),
            holder_officer=self.name(),
            step_deadline=self.maybe_time(0.4),
            pause=rng.random() < 0.3,
            with_result=rng.choice([None, True, False]),
            civil_status=rng.choice([None, *CivilStatus]),
            notice_no=rng.choice([None, "TB-1", "TB-2"]),
            apology_at=self.maybe_time(0.1),
            procedure_code=rng.choice([None, *PROCEDURES]),
            unit_name=self.name(),
            note=note,
            new_due_at=self.maybe_time(0.1),
        )

    def blob(self, key: bytes) -> bytes | None:
        """A valid event's bytes; None if the model takes it but the codec cannot (a time past
        9999-12-31 UTC: the intake never encodes one)."""
        try:
            return encode_event(self.event(key))
        except (OverflowError, ValueError):
            return None

    def key(self) -> bytes:
        # a few dossiers draw most records, so that they reach the bounds
        return self.rng.choice(KEYS[:3]) if self.rng.random() < 0.4 else self.rng.choice(KEYS)

    def clock(self, now: datetime) -> bytes:
        rng = self.rng
        marks: dict[str, Any] = {}
        for name in rng.sample(INBOUND, rng.randint(0, len(INBOUND))):
            roll = rng.random()
            if roll < 0.8:
                high: Any = to_ms(now) + rng.randint(-30 * 86_400_000, 2 * 86_400_000)
            elif roll < 0.9:
                high = None
            else:
                high = rng.choice([0, -1, -(10**15), 10**15, 2**63, "x", 1.5, True])
            marks[name] = [high, rng.random() < 0.3, rng.random() < 0.1]
        if rng.random() < 0.05:
            marks[rng.choice(["x", "a:b", "t:99999999", "\u0000", "t:1"])] = odd_json(rng)
        payload = {
            "wall": to_ms(now),
            "expect": rng.choice([0, 1, len(marks), 8, -1]),
            "marks": marks,
        }
        return json.dumps(payload).encode()

    def claim(self) -> bytes:
        rng = self.rng
        code: Any = rng.choice(CODES) if rng.random() < 0.8 else odd_json(rng)
        return json.dumps({"code": code}).encode("utf-8", "surrogatepass")

    def withdraw(self) -> bytes:
        rng = self.rng
        items: list[Any] = []
        for _ in range(rng.randint(0, 4)):
            roll = rng.random()
            if roll < 0.4:
                items.append(rng.choice(IDS))
            elif roll < 0.9:
                items.append([rng.choice(list(Source)).value, rng.choice(IDS)])
            else:
                items.append(odd_json(rng))
        return json.dumps(items).encode("utf-8", "surrogatepass")

    def garbage(self) -> Record:
        rng = self.rng
        kind = rng.choice([KIND_EVENT, KIND_CLAIM, KIND_WITHDRAW, KIND_CLOCK, b"", b"bogus"])
        if rng.random() < 0.1:
            kind = rng.randbytes(rng.randint(0, 8))
        key = rng.choice(
            [
                None,
                b"",
                rng.choice(KEYS),
                rng.randbytes(rng.randint(1, 12)),  # not UTF-8, as often as not
                b"\x00clock/0",
                b"\x00worker/x",
                "khóa lạ".encode(),
                b"k" * 10_000,
            ]
        )
        valid = self.blob(KEYS[0]) or b""
        roll = rng.random()
        value: bytes | None
        if roll < 0.05:
            value = None
        elif roll < 0.2:
            value = rng.randbytes(rng.choice([0, 1, 10, 100, 1000]))
        elif roll < 0.35:
            value = self.codec_header + rng.randbytes(rng.randint(0, 200))
        elif roll < 0.6:
            out = bytearray(valid)
            for _ in range(rng.randint(1, 4)):
                if out:
                    out[rng.randrange(len(out))] = rng.randrange(256)
            value = bytes(out)
        elif roll < 0.7:
            value = valid[: rng.randrange(len(valid) + 1)]
        elif roll < 0.75:
            value = valid + rng.randbytes(rng.randint(1, 8))
        elif roll < 0.9:
            value = json.dumps(odd_json(rng)).encode("utf-8", "surrogatepass")
        else:
            value = rng.choice(
                [b"{", b"[", b'{"code": ', b'{"wall": 1, "marks": {"a:1": [', b"\xff"]
            )
        partition = rng.choice([0, 1, 2, 2**31 - 1])
        return kind, partition, key, value


@dataclass
class JudgeSession:
    """One judge on a dict table, fed records and checked after each (see test_fuzz_judge.py).

    Crash inputs are saved as the table at the last checkpoint (every CHECKPOINT records) and
    the records since, which --replay feeds to a judge restarted on that table.
    """

    mode: ClockMode
    gen: JudgeRecords
    tally: Tally
    now: datetime = START
    table: dict[bytes, bytes] = field(default_factory=dict)
    pending: deque[Record] = field(default_factory=deque)  # its outbox, fed back
    delivered: deque[tuple[bytes, bytes]] = field(default_factory=lambda: deque(maxlen=512))
    since: list[tuple[datetime, Record]] = field(default_factory=list)
    checkpoint: tuple[datetime, dict[bytes, bytes]] = (START, {})
    failures_seen: float = 0.0
    max_table: int = 0
    max_heap: int = 0

    CHECKPOINT = 500
    MAX_EVENTS = 10
    MAX_BYTES = 16_384

    def __post_init__(self) -> None:
        self.judge = self.new_judge()
        self.checkpoint = (self.now, dict(self.table))
        logging.getLogger("hub.stream.judge").setLevel(logging.CRITICAL)  # counted, not printed

    def settings(self) -> Settings:
        return Settings(
            clock=self.mode,
            allowed_lateness_s=0,
            max_events_per_dossier=self.MAX_EVENTS,
            max_dossier_bytes=self.MAX_BYTES,
        )

    def new_judge(self) -> Judge:
        engine = Engine(CAL, CATALOG, 1)
        return Judge(self.settings(), engine, lambda: self.now, self.table)

    # records
    def records(self) -> Iterator[Record]:
        """The next record(s) to hand the judge; a burst yields many, a restart none."""
        rng, gen = self.gen.rng, self.gen
        roll = rng.random()
        if roll < 0.30:
            key = gen.key()
            blob = gen.blob(key)
            if blob is not None:
                self.delivered.append((key, blob))
                yield KIND_EVENT, partition_of(key), key, blob
        elif roll < 0.33:
            key = gen.key()
            for _ in range(rng.randint(8, 14)):
                blob = gen.blob(key)
                if blob is not None:
                    self.delivered.append((key, blob))
                    yield KIND_EVENT, partition_of(key), key, blob
        elif roll < 0.41:
            if self.delivered:
                key, blob = rng.choice(self.delivered)
                yield KIND_EVENT, partition_of(key), key, blob
        elif roll < 0.51:
            if self.pending:
                yield self.pending.popleft()
        elif roll < 0.63:
            self.now += timedelta(seconds=rng.choice([0, 1, 60, 3600, 86_400, 5 * 86_400]))
            yield KIND_CLOCK, rng.randrange(3), b"", gen.clock(self.now)
        elif roll < 0.68:
            key = rng.choice(SECTORS).encode()
            yield KIND_CLAIM, partition_of(key), key, gen.claim()
        elif roll < 0.74:
            key = gen.key()
            yield KIND_WITHDRAW, partition_of(key), key, gen.withdraw()
        elif roll < 0.995:
            yield gen.garbage()
        else:
            self.judge = self.new_judge()  # a restart on the same table

    def one(self) -> None:
        for record in self.records():
            self.handle(record)
        if len(self.since) >= self.CHECKPOINT:
            self.checkpoint = (self.now, dict(self.table))
            self.since.clear()
            self.check_table()

    def handle(self, record: Record) -> None:
        kind, partition, key, value = record
        tally = self.tally
        tally.inputs += 1
        self.since.append((self.now, record))
        before = self.table.copy()
        outbox = len(self.judge.outbox)
        failures = self.failures()
        try:
            alerts = self.judge.handle(kind, partition, key, value)
        except DOCUMENTED as exc:
            tally.outcomes[f"refused {type(exc).__name__}"] += 1
            if self.table != before or len(self.judge.outbox) != outbox:
                self.fail("violated: a refused record changed the table or the outbox", None)
            return
        except Exception as exc:
            tally.outcomes[f"escaped {type(exc).__name__}"] += 1
            self.fail(f"escaped: {signature(exc)}", exc)
            return
        finally:
            self.pending.extend(
                (k, partition_of(key_), key_, v) for key_, v, k in self.judge.outbox
            )
            self.judge.outbox.clear()
        if self.failures() > failures:  # caught inside the judge: a dossier failed at its deadline
            tally.outcomes["judge failures at a deadline"] += 1
            self.fail("escaped: a dossier failed at its deadline (caught, logged)", None)
        tally.outcomes["judged"] += 1
        tally.outcomes["alerts"] += len(alerts)
        for alert in alerts:
            self.check_alert(alert)
        if key and key in self.table and not is_internal_key(key):
            self.check_state(key, self.table[key])

    def failures(self) -> float:
        value = self.judge.metrics.registry.get_sample_value("motcua_judge_failures_total")
        return value or 0.0

    def check_alert(self, alert: Alert) -> None:
        try:
            data = encode_alert(alert)
            if encode_alert(decode_alert(data)) != data:
                self.fail("violated: an alert that does not round-trip", None)
        except Exception as exc:
            self.fail(f"escaped: alert encoding: {signature(exc)}", exc)

    def check_state(self, key: bytes, value: bytes) -> None:
        try:
            state = DossierState.loads(value)
        except Exception as exc:
            self.fail(f"violated: an unloadable stored state: {signature(exc)}", exc)
            return
        if len(state.events) > self.MAX_EVENTS or len(state.events) != len(state.blobs):
            self.fail("violated: a dossier past MOTCUA_MAX_EVENTS_PER_DOSSIER", None)
        if sum(len(b) for b in state.blobs) > self.MAX_BYTES:
            self.fail("violated: a dossier past MOTCUA_MAX_DOSSIER_BYTES", None)

    def check_table(self) -> None:
        for key, value in list(self.table.items()):
            if is_internal_key(key):
                try:
                    json.loads(value)
                except ValueError:
                    self.fail("violated: an internal table entry that is not JSON", None)
            else:
                self.check_state(key, value)
        self.max_table = max(self.max_table, len(self.table))
        self.max_heap = max(self.max_heap, self.heap_entries())

    def heap_entries(self) -> int:
        # the deadline index is private; its size is what a long-lived worker keeps in memory
        return sum(len(h) for h in self.judge._heaps.values())

    def fail(self, sig: str, exc: BaseException | None) -> None:
        mode, (at, table), since = self.mode, self.checkpoint, list(self.since)

        def save(path: Path) -> None:
            path = path.with_suffix(".jsonl")
            with path.open("w", encoding="utf-8") as out:
                head = {"mode": mode.value, "now": at.isoformat(), "table": _b64map(table)}
                out.write(json.dumps(head) + "\n")
                for now, (kind, partition, key, value) in since:
                    row = [now.isoformat(), _b64(kind), partition, _b64(key), _b64(value)]
                    out.write(json.dumps(row) + "\n")
            path.with_suffix(".txt").write_text(
                f"target: judge ({mode.value} clock)\nreplay: python -m bench.fuzz --replay "
                f"{path}\n{sig}\n{_text(exc)}",
                encoding="utf-8",
            )

        self.tally.fail(sig, save)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def _b64map(table: dict[bytes, bytes]) -> dict[str, str]:
    return {base64.b64encode(k).decode(): base64.b64encode(v).decode() for k, v in table.items()}


# -- running ------------------------------------------------------------------------------------
def run_target(
    target: str, seed: int, seconds: float | None, inputs: int | None, every: float
) -> Tally:
    rng = random.Random(f"{seed}:{target}")  # each target its own stream: --target x reproduces
    tally = Tally(target)
    step: Callable[[], None]
    sessions: list[JudgeSession] = []
    if target == "judge":
        gen = JudgeRecords(rng)
        modes = [ClockMode.WALL, ClockMode.EVENT]
        # sessions alternate the clocks; each is long enough for its table and index to grow
        session_inputs = 50_000

        def judge_step() -> None:
            if not sessions or tally.inputs >= session_inputs * len(sessions):
                sessions.append(JudgeSession(modes[len(sessions) % 2], gen, tally))
            sessions[-1].one()

        step = judge_step
    else:
        fuzz = ConnectorFuzz(SOURCES[Source(target)], rng, tally)
        step = fuzz.one
    deadline = None if seconds is None else time.perf_counter() + seconds
    next_print = time.perf_counter() + every
    while True:
        if inputs is not None and tally.inputs >= inputs:
            break
        if deadline is not None and time.perf_counter() >= deadline:
            break
        step()
        if time.perf_counter() >= next_print:
            if sessions:
                judge_sizes(tally, sessions[-1])
            print(tally.line(), flush=True)
            next_print += every
    tally.ended = time.perf_counter()
    if sessions:
        sessions[-1].check_table()
        judge_sizes(tally, sessions[-1])
        tally.extra["sessions"] = len(sessions)
    print(tally.line(), flush=True)
    return tally


def judge_sizes(tally: Tally, session: JudgeSession) -> None:
    session.max_table = max(session.max_table, len(session.table))
    session.max_heap = max(session.max_heap, session.heap_entries())
    tally.extra.update(
        {
            "mode": session.mode.value,
            "table": len(session.table),
            "table_kib": sum(len(k) + len(v) for k, v in session.table.items()) // 1024,
            "max_table": session.max_table,
            "heap": session.heap_entries(),
            "max_heap": session.max_heap,
        }
    )


def print_summary(tally: Tally) -> None:
    s = tally.summary()
    print(f"\n== {tally.target}: {s['inputs']} inputs in {s['seconds']} s = {s['inputs_per_s']}/s; "
          f"escaped {s['escaped']}, violated {s['violated']}; RSS peak {s['peak_rss_mib']} MiB, "
          f"now {s['current_rss_mib']} MiB")  # fmt: skip
    print("   outcomes: " + ", ".join(f"{k} {v}" for k, v in tally.outcomes.most_common()))
    for sig, n in tally.failures.most_common():
        print(f"   {n:>7} x {sig}")
        for path in tally.saved.get(sig, [])[:1]:
            print(f"             e.g. {path}.*")


def replay(path: Path) -> int:
    """Re-run one saved input and print what happens (the exception, with its traceback)."""
    logging.basicConfig(level=logging.ERROR)
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        head = json.loads(lines[0])
        table = {base64.b64decode(k): base64.b64decode(v) for k, v in head["table"].items()}
        now = [datetime.fromisoformat(head["now"])]
        cfg = Settings(
            clock=ClockMode(head["mode"]),
            allowed_lateness_s=0,
            max_events_per_dossier=JudgeSession.MAX_EVENTS,
            max_dossier_bytes=JudgeSession.MAX_BYTES,
        )
        judge = Judge(cfg, Engine(CAL, CATALOG, 1), lambda: now[0], table)
        status, refused = 0, Counter[str]()
        for n, line in enumerate(lines[1:], start=1):
            at, kind, partition, key, value = json.loads(line)
            now[0] = datetime.fromisoformat(at)
            record = (_unb64(kind) or b"", partition, _unb64(key), _unb64(value))
            try:
                judge.handle(*record)
            except DOCUMENTED as exc:
                refused[type(exc).__name__] += 1
            except Exception:
                print(f"record {n}: ESCAPED {record[0]!r} key={record[2]!r:.60}")
                traceback.print_exc()
                status = 1
            judge.outbox.clear()
        print(f"{len(lines) - 1} records replayed; refused as documented: {dict(refused)}")
        failures = judge.metrics.registry.get_sample_value("motcua_judge_failures_total")
        if failures:  # caught inside the judge, logged above
            print(f"{failures:.0f} dossier(s) failed at their deadline")
            status = 1
        return status
    target = path.name.split("-", 1)[0]
    spec = SOURCES[Source(target)]
    raw = path.read_bytes()
    cfg = Settings(land_security_code=DEFAULT_SECURITY_CODE)
    name, out = decode(cfg, CAL, spec.topic, 0, 0, raw, INTAKE_NOW)
    print(f"{name}: {len(out.events)} events, {out.informational} informational, rejections:")
    for r in out.rejections[:20]:
        print(f"  {r.reason.value} item={r.item}: {r.message[:200]}")
    for ev in out.events:
        decode_event(encode_event(ev))
    return 1 if any(r.reason is Reason.INTERNAL for r in out.rejections) else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.fuzz", description=(__doc__ or "").split("\n\n")[0]
    )
    ap.add_argument("--target", default="all", choices=[*TARGETS, "all"])
    ap.add_argument("--seconds", type=float, default=None, help="per target (default 60)")
    ap.add_argument("--inputs", type=int, default=None, help="per target, instead of --seconds")
    ap.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    ap.add_argument("--every", type=float, default=5.0, help="seconds between progress lines")
    ap.add_argument("--replay", type=Path, default=None, help="re-run a saved input")
    ap.add_argument("--summary-to", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.replay is not None:
        return replay(args.replay)
    seconds = args.seconds if args.seconds is not None or args.inputs is not None else 60.0
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    limit = f"{seconds:g} s" if seconds is not None else ""
    limit += (" or " if limit and args.inputs else "") + (
        f"{args.inputs} inputs" if args.inputs else ""
    )
    if args.target != "all":
        print(f"fuzzing {args.target}: {limit}, --seed {seed}", flush=True)
        tally = run_target(args.target, seed, seconds, args.inputs, args.every)
        print_summary(tally)
        if args.summary_to is not None:
            args.summary_to.write_text(json.dumps(tally.summary(), default=str), "utf-8")
        else:
            write_results(seed, [tally.summary()])
        return 1 if tally.escaped or tally.violated else 0
    # every target in a process of its own, one after the other: each peak RSS is its own
    print(f"fuzzing {', '.join(TARGETS)}: {limit} each, --seed {seed}", flush=True)
    summaries = []
    for target in TARGETS:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "summary.json"
            command = [sys.executable, "-m", "bench.fuzz", "--target", target, "--seed", str(seed)]
            command += ["--every", str(args.every), "--summary-to", str(out)]
            if seconds is not None:
                command += ["--seconds", str(seconds)]
            if args.inputs is not None:
                command += ["--inputs", str(args.inputs)]
            subprocess.run(command, cwd=ROOT, check=False)
            if out.is_file():
                summaries.append(json.loads(out.read_text("utf-8")))
            else:
                summaries.append({"target": target, "escaped": "the run itself failed"})
    print("\n| target | inputs | inputs/s | escaped | violated | peak RSS | RSS at the end |")
    print("|---|---|---|---|---|---|---|")
    for s in summaries:
        rss = f"{s.get('peak_rss_mib')} MiB | {s.get('current_rss_mib')} MiB"
        print(
            f"| {s['target']} | {s.get('inputs')} | {s.get('inputs_per_s')} | {s['escaped']} "
            f"| {s.get('violated')} | {rss} |"
        )
    write_results(seed, summaries)
    return 1 if any(s["escaped"] or s.get("violated") for s in summaries) else 0


def write_results(seed: int, summaries: list[dict[str, Any]]) -> None:
    CRASHES.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(TZ).strftime("%Y%m%d-%H%M%S")
    out = CRASHES.parent / f"fuzz-{stamp}.json"
    out.write_text(json.dumps({"seed": seed, "targets": summaries}, indent=1, default=str), "utf-8")
    print(f"\nwritten {out}")


if __name__ == "__main__":
    sys.exit(main())
