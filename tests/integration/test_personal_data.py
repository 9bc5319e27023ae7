"""Personal data through a real worker on a real broker (issue 13, item 4; the data map is in
README.md, "Personal data").

The contract's sample feed, its people renamed to distinctive markers: every applicant
(`ChuHoSo`, `SoGiayToChuHoSo`, and an address, a phone number and an e-mail added beside them)
and every officer (`NguoiXuLy`, `NguoiKy`, the land `MaCanBo*`, the civil `CanBo`) gets a name
or number found nowhere else. Two more dossiers: one under a unit code no unit list has, one
dead-lettered for a bad time with its applicant. Then every output is searched:

- applicants: only in hub.deadletter's values (the raw messages the hub refused), never in a
  dead-letter header, an event, the changelog, an alert, a summary, the page, the API,
  /metrics or the worker's log;
- officers: in the alerts, the dossier events and changelog, the summaries, the trace
  (/api/dossiers) and the unit drill-down's late list (who holds each late dossier), never in
  /api/units, /api/search, the page, /metrics, the log or a dead-letter header;
- tax notice numbers: in the events, the changelog and the trace only;
- the land security code (a secret): only in the raw land messages dead-lettered;
- /metrics has no label for the invented unit: it is counted under `other`.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hub import testing
from hub.stream.state import DossierState
from hub.testing import LocalBroker, produce, read_topic, running_worker
from hub.topics import (
    ALERTS,
    DEADLETTER,
    DOSSIER_EVENTS,
    DOSSIER_SUMMARY,
    changelog_topic,
)
from tests.integration.harness import wait_for_alerts
from tests.samples import SECURITY_CODE, TOPICS, expected_keys, scheduled

pytestmark = pytest.mark.kafka
APP = "pd"
INVENTED_UNIT = "999.98.97.X00"
OFFICER_FIELDS = ("NguoiXuLy", "NguoiKy", "MaCanBoNhan", "MaCanBoChuyen", "MaCanBoXuLy")


@dataclass
class People:
    """Distinctive stand-ins for the people of the feed: old value -> marker."""

    applicants: dict[str, str] = field(default_factory=dict)
    identities: dict[str, str] = field(default_factory=dict)
    contacts: list[str] = field(default_factory=list)  # address, phone, e-mail markers
    officers: dict[str, str] = field(default_factory=dict)
    notices: set[str] = field(default_factory=set)

    def applicant(self, old: str) -> str:
        n = self.applicants.setdefault(old, f"Hoàng Thị ZqApl{len(self.applicants):03d}")
        return n

    def identity(self, old: str) -> str:
        return self.identities.setdefault(old, f"04977{len(self.identities):07d}")

    def officer(self, old: str, land: bool) -> str:
        if not old:
            return old
        n = len(self.officers)
        return self.officers.setdefault(old, f"cb.zqoff{n:03d}" if land else f"Lê Văn ZqOff{n:03d}")

    def applicant_markers(self) -> list[str]:
        # the ASCII part of a name: found whatever escaping a JSON writer applies
        return [
            *(re.sub(r"^.* ", "", v) for v in self.applicants.values()),
            *self.identities.values(),
            *self.contacts,
        ]

    def officer_markers(self) -> list[str]:
        return [re.sub(r"^.*[ .]", "", v) for v in self.officers.values()]


def json_field(name: str) -> re.Pattern[bytes]:
    """`"Name": "value"` in any ASCII case (the one-stop and land formats fold field names)."""
    return re.compile(rb'("(?i:' + name.encode() + rb')"\s*:\s*")([^"]*)(")')


def renamed(raw: bytes, people: People) -> bytes:
    def sub(pattern: re.Pattern[bytes], new: Callable[[str], str], data: bytes) -> bytes:
        def one(m: re.Match[bytes]) -> bytes:
            old = m.group(2).decode("utf-8", "replace")
            return m.group(1) + new(old).encode() + m.group(3)

        return pattern.sub(one, data)

    def contacts(m: re.Match[bytes]) -> bytes:
        n = len(people.contacts) // 3
        extra = [f"Thôn ZqAddr{n:03d}", f"09770{n:05d}", f"zqmail{n:03d}@example.vn"]
        people.contacts += extra
        added = (
            f'"DiaChiChuHoSo": "{extra[0]}", "SoDienThoai": "{extra[1]}", "Email": "{extra[2]}", '
        )
        return added.encode() + m.group(0)

    raw = re.sub(rb'"(?i:chuhoso)"\s*:', contacts, raw)
    raw = sub(json_field("ChuHoSo"), people.applicant, raw)
    raw = sub(json_field("SoGiayToChuHoSo"), people.identity, raw)
    for name in OFFICER_FIELDS:
        land = name.startswith("MaCanBo")

        def officer(old: str, land: bool = land) -> str:
            return people.officer(old, land)

        raw = sub(json_field(name), officer, raw)
    raw = re.sub(
        rb"(<CanBo>)([^<]*)(</CanBo>)",
        lambda m: (
            m.group(1)
            + people.officer(m.group(2).decode("utf-8", "replace").strip(), False).encode()
            + m.group(3)
        ),
        raw,
    )
    for m in json_field("noticeNo").finditer(raw):
        people.notices.add(m.group(2).decode())
    return raw


def extra_dossiers(people: People) -> list[tuple[str, bytes | None, bytes]]:
    """A dossier of a unit no list has (late, so in the unit gauges), and a snapshot refused
    for its time: its applicant stays in hub.deadletter."""

    def snapshot(code: str, received: str, n: int) -> bytes:
        name, ident = people.applicant(f"extra-{n}"), people.identity(f"extra-{n}")
        item = {
            "MaHoSo": code,
            "MaTTHC": "1.013831",
            "ChuHoSo": name,
            "SoGiayToChuHoSo": ident,
            "NgayTiepNhan": received,
            "NgayHenTra": "20261106170000",
            "TrangThaiHoSo": "2",
            "DonViXuLy": "Đơn vị không có trong danh sách",
        }
        body = {"service": "DongBoHoSoMC", "isUpdating": False, "data": [item]}
        return json.dumps(body, ensure_ascii=False).encode()

    return [
        (TOPICS["onestop"], None, snapshot(f"{INVENTED_UNIT}-261103-0001", "20261103083000", 1)),
        (TOPICS["onestop"], None, snapshot(f"{INVENTED_UNIT}-261103-0002", "20261399083000", 2)),
    ]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        body: bytes = response.read()
    return body.decode()


def record_text(topic: str, value: bytes | None) -> str:
    """A record's value as text to search: a dossier state is decoded (it is compressed)."""
    if value is None:
        return ""
    if topic.endswith("-changelog"):
        try:
            state = DossierState.loads(value)
        except Exception:  # a clock mark, not a dossier
            return value.decode("utf-8", "replace")
        return "\n".join(ev.model_dump_json() for ev in state.events)
    return value.decode("utf-8", "replace")


def found(markers: Iterable[str], outputs: dict[str, str]) -> dict[str, list[str]]:
    """Which outputs hold which markers."""
    hits: dict[str, list[str]] = {}
    for name, text in outputs.items():
        where = [m for m in markers if m in text]
        if where:
            hits[name] = where[:5]
    return hits


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    with LocalBroker(tmp_path / "broker") as kafka:
        yield kafka


def test_personal_data_stays_where_the_data_map_says(
    own_broker: LocalBroker, tmp_path: Path
) -> None:
    people = People()
    feed: list[tuple[str, bytes | None, bytes]] = [
        (TOPICS[line.source], None, renamed(line.raw, people)) for line in scheduled()
    ]
    feed += extra_dossiers(people)
    assert len(people.applicants) > 5 and len(people.officers) > 10 and people.notices

    bootstrap = own_broker.bootstrap
    env = testing.worker_env(
        bootstrap,
        tmp_path / "worker-data",
        app_id=APP,
        clock="event",
        idle_timeout_s=3,
        land_security_code=SECURITY_CODE,
        max_event_lead_s=100 * 365 * 86_400,  # the feed's times, whatever day it runs
    )
    base = f"http://127.0.0.1:{env['MOTCUA_WEB_PORT']}"
    log = tmp_path / "worker.log"
    outputs: dict[str, str] = {}
    with running_worker(env, log):
        asyncio.run(produce(bootstrap, feed))
        wait_for_alerts(bootstrap, at_least=len(expected_keys()))
        outputs["page /"] = get(base + "/")
        units = json.loads(get(base + "/api/units"))
        assert len(units) > 5, "no unit rows: the API greps below would prove nothing"
        outputs["/api/units"] = json.dumps(units, ensure_ascii=False)
        for row in units:
            unit = urllib.parse.quote(row["unit_code"], safe="")
            outputs[f"/api/units/{unit}"] = get(f"{base}/api/units/{unit}")
        summaries = asyncio.run(read_topic(bootstrap, DOSSIER_SUMMARY))
        codes = sorted({r.key.decode() for r in summaries if r.key and r.key[:1] != b"\x00"})
        for q in sorted({c[:6] for c in codes} | {"ZqApl", "0497", "ZqOff", "Hoàng"}):
            outputs[f"/api/search?q={q}"] = get(f"{base}/api/search?q={urllib.parse.quote(q)}")
        traces = [get(f"{base}/api/dossiers/{urllib.parse.quote(c, safe='')}") for c in codes]
        metrics = get(base + "/metrics")
    outputs["/metrics"] = metrics
    outputs["worker log"] = log.read_text(errors="replace")

    topics: dict[str, str] = {}
    dead_values: list[str] = []
    for topic in (DOSSIER_EVENTS, changelog_topic(APP), ALERTS, DOSSIER_SUMMARY, DEADLETTER):
        for r in asyncio.run(read_topic(bootstrap, topic)):
            headers = "\n".join(f"{k}={v.decode('utf-8', 'replace')}" for k, v in r.headers)
            key = (r.key or b"").decode("utf-8", "replace")
            if topic == DEADLETTER:
                dead_values.append(r.value.decode("utf-8", "replace") if r.value else "")
                topics.setdefault("hub.deadletter keys and headers", "")
                topics["hub.deadletter keys and headers"] += f"{key}\n{headers}\n"
            else:
                topics.setdefault(topic, "")
                topics[topic] += f"{key}\n{headers}\n{record_text(topic, r.value)}\n"
    assert set(topics) == {
        DOSSIER_EVENTS,
        changelog_topic(APP),
        ALERTS,
        DOSSIER_SUMMARY,
        "hub.deadletter keys and headers",
    }
    trace_text = "\n".join(traces)
    everything = {**outputs, **topics, "/api/dossiers/*": trace_text}

    # applicants: in the raw messages dead-lettered, and nowhere else
    applicants = people.applicant_markers()
    assert found(applicants, {"dead letters": "\n".join(dead_values)}), "the search finds none"
    assert found(applicants, everything) == {}

    # officers: where responsibility needs them, and nowhere else
    officers = people.officer_markers()
    hits = found(officers, everything)
    for needed in (ALERTS, DOSSIER_EVENTS, changelog_topic(APP), "/api/dossiers/*"):
        assert needed in hits, f"no officer in {needed}: {everything[needed][:1500]}"
    allowed = {ALERTS, DOSSIER_EVENTS, changelog_topic(APP), DOSSIER_SUMMARY, "/api/dossiers/*"}
    allowed |= {name for name in outputs if name.startswith("/api/units/")}  # late list's holder
    assert {name: m for name, m in hits.items() if name not in allowed} == {}

    # tax notice numbers: the events, the changelog and the trace
    notices = sorted(people.notices)
    hits = found(notices, everything)
    assert "/api/dossiers/*" in hits
    assert set(hits) <= {DOSSIER_EVENTS, changelog_topic(APP), "/api/dossiers/*"}, hits

    # the land security code: only inside the raw land messages the hub refused
    assert found([SECURITY_CODE], everything) == {}

    # /metrics: the invented unit is one of `other`, never a label of its own
    assert INVENTED_UNIT not in metrics
    assert re.search(r'motcua_open_dossiers\{[^}]*unit="other"', metrics), metrics[-3000:]
    assert f"{INVENTED_UNIT}-261103-0001" in codes  # the dossier was judged
