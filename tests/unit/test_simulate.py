"""The synthetic feed (`motcua-hub simulate`): deterministic, realistic, in the exact formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.domain.calendar import TZ, WorkingCalendar
from hub.settings import DATA_DIR
from hub.simulate.cli import parse_speed, simulate
from hub.simulate.formats import FILE_NAMES
from hub.simulate.province import (
    CIVIL,
    LAND,
    MALFORMED_REASONS,
    ONESTOP,
    SOURCES,
    TAX,
    VENDORS,
    Dossier,
    Msg,
    SimConfig,
    Simulation,
    WorkClock,
    load_catalogue,
)
from hub.simulate.publish import iter_rendered, write_files

CAL = WorkingCalendar.from_file(DATA_DIR / "calendar-overrides.csv")
CATALOGUE = load_catalogue(DATA_DIR / "procedures.csv")
CIVIL_NS = "{urn:hotich:sukien:1}"


def _sim(**kw: Any) -> Simulation:
    return Simulation(SimConfig(**kw), CATALOGUE, CAL)


def _run(**kw: Any) -> tuple[list[tuple[Msg, bytes]], dict[str, Dossier]]:
    sim = _sim(**kw)
    plans: dict[str, Dossier] = {}
    sim.on_dossier = lambda d: plans.__setitem__(d.key, d)
    return list(iter_rendered(sim)), plans


@pytest.fixture(scope="module")
def feed() -> tuple[list[tuple[Msg, bytes]], dict[str, Dossier]]:
    return _run(
        seed=11,
        dossiers=3000,
        days=35,
        late_share=0.2,
        unreported_share=0.1,
        bypass_share=0.05,
        step_overdue_share=0.2,
        malformed_share=0.03,
        duplicate_share=0.05,
        out_of_order_share=0.05,
    )


# ------------------------------------------------------------------------------------------------
# determinism and order


def test_same_seed_same_bytes() -> None:
    a = [(m.sent_at, m.source, b) for m, b in iter_rendered(_sim(seed=5, dossiers=400))]
    b = [(m.sent_at, m.source, b) for m, b in iter_rendered(_sim(seed=5, dossiers=400))]
    c = [(m.sent_at, m.source, b) for m, b in iter_rendered(_sim(seed=6, dossiers=400))]
    assert a == b
    assert a != c


def test_sent_in_order_with_explicit_aware_times(feed: Any) -> None:
    msgs, _ = feed
    cfg = SimConfig(days=35)
    previous = None
    for msg, _data in msgs:
        assert msg.sent_at.tzinfo is not None and msg.sent_at.utcoffset() == timedelta(hours=7)
        assert msg.sent_at < cfg.horizon
        if previous is not None:
            assert msg.sent_at >= previous
        previous = msg.sent_at
        if msg.event_time is not None:
            assert msg.event_time.utcoffset() == timedelta(hours=7)
            assert msg.event_time <= msg.sent_at
            if msg.note == "":
                assert msg.sent_at - max(e.at for e in msg.evs) <= timedelta(minutes=3)
        if msg.note == "late":
            assert msg.sent_at - max(e.at for e in msg.evs) >= timedelta(minutes=3)


# ------------------------------------------------------------------------------------------------
# shares


def test_shares_roughly_respected(feed: Any) -> None:
    msgs, plans = feed
    dossiers = list(plans.values())
    assert len(dossiers) == 3000
    judged = [d for d in dossiers if d.outcome == "result" and d.due is not None]
    late = sum(d.late for d in judged) / len(judged)
    assert 0.15 <= late <= 0.27
    bypass = sum(d.bypass for d in dossiers) / len(dossiers)
    assert 0.03 <= bypass <= 0.07
    sectoral = [d for d in dossiers if d.code is not None and d.outcome != "refused"]
    unreported = sum(d.unreported for d in sectoral) / len(sectoral)
    assert 0.07 <= unreported <= 0.13
    overdue = sum(d.step_overdue for d in dossiers) / len(dossiers)
    assert 0.14 <= overdue <= 0.22
    notes = Counter(m.note.split(":")[0] for m, _ in msgs)
    valid = sum(1 for m, _ in msgs if m.note in ("", "late", "late-day"))
    assert 0.035 <= notes["duplicate"] / valid <= 0.065
    assert 0.035 <= (notes["late"] + notes["late-day"]) / valid <= 0.065
    assert 0.02 <= notes["malformed"] / valid <= 0.04
    # many same-day civil dossiers, fewer long land dossiers, tax notices on land ones
    sectors = Counter(d.sector for d in dossiers)
    assert sectors["civil"] > 2.5 * sectors["land"] > 0
    assert any(d.tax for d in dossiers)
    assert all(d.sector == "land" for d in dossiers if d.tax)
    assert Counter(d.vendor for d in dossiers if not d.bypass).keys() == set(VENDORS)


def test_due_dates_follow_the_catalogue() -> None:
    clock = WorkClock(CAL)
    mon = date(2026, 11, 2)  # a Monday
    at = clock.due_date
    from datetime import datetime

    def t(d: date, h: int, m: int = 0) -> datetime:
        return datetime(d.year, d.month, d.day, h, m, tzinfo=TZ)

    assert at(t(mon, 14, 59), 0) == t(mon, 17)
    assert at(t(mon, 15, 0), 0) == t(mon + timedelta(days=1), 17)
    assert at(t(mon + timedelta(days=4), 16), 0) == t(mon + timedelta(days=7), 17)  # Fri -> Mon
    assert at(t(mon, 10), 10) == t(mon + timedelta(days=14), 17)
    assert at(t(mon, 17, 30), 1) == t(mon + timedelta(days=2), 17)  # after hours: from Tuesday


# ------------------------------------------------------------------------------------------------
# formats


def _ci(obj: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in obj.items()}


def _present(item: dict[str, Any], name: str) -> bool:
    return item.get(name.lower()) not in (None, "")


def _check_onestop(data: bytes) -> None:
    body = json.loads(data)
    if isinstance(body, dict):
        assert body["service"] in ("DongBoHoSoMC", "CapNhatTienDoHoSoMC", "GuiPhieuXinLoi")
        items = body["data"] if isinstance(body["data"], list) else [body["data"]]
    else:
        items = body
    assert isinstance(items, list) and items
    for raw in items:
        item = _ci(raw)
        assert isinstance(item["mahoso"], str) and item["mahoso"]
        if "trangthaihoso" in item:
            assert str(item["trangthaihoso"]) != ""
            if str(item["trangthaihoso"]) in ("2", "new"):
                assert _present(item, "NgayTiepNhan")
        elif "thoidiemxuly" in item:
            assert _present(item, "ThoiDiemXuLy") and str(item["trangthai"]) != ""
        else:
            assert _present(item, "NgayXinLoi")


def _check_land(data: bytes, code: str) -> None:
    body = _ci(json.loads(data))
    assert body["securitycode"] == code
    assert _present(body, "SoBienNhan") or _present(body, "MaHoSoVBDLIS")
    own = {
        "dongbotrangthailuanchuyenhoso": ["ngaychuyen"],
        "chuyenhoso": ["ngaychuyen"],
        "dongbotrangthaichobosung": ["ngaychobosung"],
        "yeucaubosunghoso": ["ngaychobosung"],
        "dongbotrangthaidabosung": ["ngaydabosung", "ngaynhanbosung"],
        "nhanbosunghoso": ["ngaydabosung", "ngaynhanbosung"],
        "dongbotrangthaiketthuc": ["ngayketthuc"],
        "ketthuchoso": ["ngayketthuc"],
    }.get(body["callback"].lower())
    if own is not None:
        assert any(_present(body, f) for f in own)
    if body["callback"].lower() in ("dongbotrangthaiketthuc", "ketthuchoso"):
        assert str(body["trangthaiketthuc"]).isdigit()


def _check_tax(data: bytes) -> None:
    body = json.loads(data)
    for f in ("eventId", "eventType", "dossierRef"):
        assert isinstance(body[f], str) and body[f]
    assert isinstance(body["occurredAt"], int)
    if body["eventType"] != "OBLIGATION_RECEIVED":
        assert isinstance(body["noticeNo"], str) and body["noticeNo"]


def _check_civil(data: bytes) -> None:
    assert b"<!ENTITY" not in data
    root = ET.fromstring(data)
    assert root.tag == CIVIL_NS + "SuKienHoTich"

    def text(name: str) -> str:
        el = root.find(CIVIL_NS + name)
        return (el.text or "").strip() if el is not None else ""

    assert text("MaSuKien") and text("TrangThai")
    assert text("SoHoSo") or text("MaHoSoMotCua")
    day, clock = text("ThoiGian").split(" ")
    assert len(day) == 10 and len(clock) == 5


def test_every_valid_message_parses_with_required_fields(feed: Any) -> None:
    msgs, _ = feed
    code = SimConfig().security_code
    seen: Counter[str] = Counter()
    for msg, data in msgs:
        if msg.malformed:
            continue
        assert b"\n" not in data
        seen[msg.source] += 1
        if msg.source == ONESTOP:
            _check_onestop(data)
        elif msg.source == LAND:
            _check_land(data, code)
        elif msg.source == TAX:
            _check_tax(data)
        else:
            _check_civil(data)
    assert all(seen[s] > 0 for s in SOURCES)


def test_malformed_cover_every_reason(feed: Any) -> None:
    msgs, _ = feed
    got = {(m.source, m.malformed) for m, _ in msgs if m.malformed}
    want = {(s, r) for s, reasons in MALFORMED_REASONS.items() for r, w in reasons if w >= 10}
    assert want <= got
    for msg, data in msgs:
        if msg.malformed:
            assert b"\n" not in data and msg.event_time is None
            if msg.malformed == "TOO_LARGE":
                assert len(data) > SimConfig().max_message_bytes


def _connectors() -> dict[str, Any]:
    try:
        from connectors import CONNECTORS
    except ImportError:  # pragma: no cover
        return {}
    return dict(CONNECTORS)


@pytest.mark.skipif(not _connectors(), reason="connectors.CONNECTORS not populated yet")
def test_connectors_accept_valid_and_reject_malformed(feed: Any) -> None:
    from connectors import CONNECTORS, Context

    msgs, _ = feed
    cfg = SimConfig()
    ctx = Context(calendar=CAL, land_security_code=cfg.security_code)
    for msg, data in msgs:
        decoded = CONNECTORS[msg.source](data, ctx)
        if msg.malformed:
            assert [r.reason.value for r in decoded.rejections] == [msg.malformed], data[:300]
            assert not decoded.events
        else:
            assert decoded.rejections == [], (decoded.rejections, data[:300])
            assert decoded.events or decoded.informational
            times = [e.event_time for e in decoded.events if e.event_time is not None]
            assert (max(times) if times else None) == msg.event_time


def _engine() -> Any:
    try:
        from hub.domain.catalog import Catalog
        from hub.domain.engine import Engine
    except ImportError:  # pragma: no cover
        return None
    return Engine(CAL, Catalog.from_file(DATA_DIR / "procedures.csv"), grace_working_days=1)


@pytest.mark.skipif(not _connectors() or _engine() is None, reason="connectors or engine missing")
def test_the_hub_sees_what_each_dossier_was_built_to_do() -> None:
    from connectors import CONNECTORS, Context

    msgs, plans = _run(
        seed=3, dossiers=800, days=40, late_share=0.25, unreported_share=0.15,
        bypass_share=0.08, step_overdue_share=0.25,
    )  # fmt: skip
    ctx = Context(calendar=CAL, land_security_code=SimConfig().security_code)
    events: dict[str, list[Any]] = defaultdict(list)
    for msg, data in msgs:
        for ev in CONNECTORS[msg.source](data, ctx).events:
            events[ev.dossier_code].append(ev)
    engine = _engine()
    end = SimConfig(days=40).horizon
    raised: dict[str, set[str]] = defaultdict(set)
    for key, evs in events.items():
        for alert in engine.evaluate(key, evs, {}, end, end).alerts:
            if str(alert.state).endswith("RAISED"):
                raised[key].add(str(alert.type).rsplit(".", 1)[-1])
    cut = end - timedelta(days=7)
    checked = 0
    for key, d in plans.items():
        if d.closed_at is None or d.closed_at > cut:
            continue  # still open at the end of the feed: not judged here
        checked += 1
        want = {
            "PROCESSING_LATE": d.late,
            "APOLOGY_MISSING": d.late and not d.apology_on_time,
            "UNREPORTED_COMPLETION": d.unreported,
            "NOT_RECEIVED_VIA_ONESTOP": d.bypass,
            "STEP_OVERDUE": d.step_overdue,
        }
        got = {t: t in raised.get(key, set()) for t in want}
        assert got == want, (key, d.summary())
    assert checked > 500


# ------------------------------------------------------------------------------------------------
# file output and the command


def test_file_output(tmp_path: Path) -> None:
    sim = _sim(seed=2, dossiers=300, malformed_share=0.02, duplicate_share=0.05)
    stats = write_files(sim, tmp_path)
    files = {p.name for p in tmp_path.iterdir()}
    assert files == {*FILE_NAMES.values(), "schedule.jsonl", "dossiers.jsonl"}
    lines = {s: (tmp_path / FILE_NAMES[s]).read_bytes().split(b"\n") for s in SOURCES}
    for s in SOURCES:
        assert lines[s][-1] == b""  # every message ends with a newline
        lines[s].pop()
    schedule = [
        json.loads(x) for x in (tmp_path / "schedule.jsonl").read_text("utf-8").splitlines()
    ]
    assert len(schedule) == stats.messages == sum(len(v) for v in lines.values())
    seen: Counter[str] = Counter()
    previous = ""
    for entry in schedule:
        assert set(entry) == {"source", "line", "sent_at", "event_time", "dossier", "note"}
        seen[entry["source"]] += 1
        assert entry["line"] == seen[entry["source"]]
        assert entry["sent_at"] >= previous  # one offset: the string order is the time order
        previous = entry["sent_at"]
        raw = lines[entry["source"]][entry["line"] - 1]
        if entry["note"] == "" and entry["source"] == CIVIL:
            assert raw.startswith(b"<?xml") and ET.fromstring(raw) is not None
        elif entry["note"] == "":
            json.loads(raw)
    dossiers = (tmp_path / "dossiers.jsonl").read_text("utf-8").splitlines()
    assert len(dossiers) == stats.dossiers == 300


def test_command_writes_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTCUA_LAND_SECURITY_CODE", "SECRET-1")
    args = ["--seed", "4", "--dossiers", "50", "--days", "7", "--start", "2026-11-23"]
    result = CliRunner().invoke(simulate, [*args, "--to-files", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["dossiers"] == 50
    again = CliRunner().invoke(simulate, [*args, "--to-files", str(tmp_path / "b")])
    assert again.exit_code == 0
    for name in [*FILE_NAMES.values(), "schedule.jsonl"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    land = (tmp_path / "a" / "land.jsonl").read_text("utf-8")
    assert '"SecurityCode": "SECRET-1"' in land


def test_speed_option() -> None:
    assert parse_speed("realtime") == 1.0
    assert parse_speed("max") is None
    assert parse_speed("3600") == 3600.0
    import click

    for bad in ("0", "-1", "fast-ish", "inf"):
        with pytest.raises(click.BadParameter):
            parse_speed(bad)


def test_config_rejects_bad_shares() -> None:
    with pytest.raises(ValueError):
        SimConfig(late_share=1.5)
    with pytest.raises(ValueError):
        SimConfig(days=0)


def test_generation_is_lazy() -> None:
    sim = _sim(seed=9, dossiers=2000, days=60)
    made: list[str] = []
    sim.on_dossier = lambda d: made.append(d.key)
    gen = sim.messages()
    first = next(gen)
    # only the dossiers anchored within the look-back window of the first send exist yet
    assert first.sent_at.date() <= date(2026, 11, 4)
    assert 0 < len(made) < 400
    assert sum(1 for _ in gen) > 10_000
    assert len(made) == 2000
