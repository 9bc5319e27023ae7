"""A seeded model of one province and the lifecycles of its dossiers (pure: no wall clock, no I/O).

`Simulation(config, catalogue, calendar).messages()` yields every message the four agency systems
send, in send-time order, each with its explicit event time and send time; `formats.render` turns
one into the exact bytes of its source format.

Generation is lazy: dossiers are made one at a time in order of their receipt (anchor) time and
their messages merged through a heap; a message of a dossier is never sent more than `LOOKBACK`
before its anchor, so a message can be released once every dossier anchored up to its send time +
`LOOKBACK` has been made. Memory is proportional to the dossiers open at one time, not to the run.

Shares (all per the model's intent, recorded in `Dossier` and `Msg.note`):
- `late_share`: of dossiers with a due date that finish with a result, the share that finish after
  their (pause-moved) due date; a share of those get an apology, most dated before the due date;
- `unreported_share`: of dossiers with a one-stop code closed by a sectoral system (land or civil),
  the share whose one-stop system never records the closing;
- `bypass_share`: of land and civil dossiers, the share that never pass the one-stop desk (their
  land or civil events carry no one-stop code);
- `step_overdue_share`: of dossiers with at least one hand-over, the share with one hand-over whose
  step deadline passes before anything follows it;
- `duplicate_share`, `out_of_order_share`, `malformed_share`: per valid message, the chance of a
  redelivered copy, of being sent late (minutes; one in ten by about a day), of an extra malformed
  copy (every dead-letter reason its source can produce).
"""

from __future__ import annotations

import csv
import heapq
import itertools
import random
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from hub.domain.calendar import TZ, WorkingCalendar

ONESTOP, LAND, TAX, CIVIL = "onestop", "land", "tax", "civil"
SOURCES: tuple[str, ...] = (ONESTOP, LAND, TAX, CIVIL)

# one-stop vendors' payload shapes (sources.md §1)
CANONICAL, BARELIST, SESSION, CAMEL = "canonical", "barelist", "session", "camel"
VENDORS: tuple[str, ...] = (CANONICAL, BARELIST, SESSION, CAMEL)
# land adapters' styles (sources.md §2): canonical names and local offsets; route names in UTC;
# route names with camelCase fields and UTC times without offset
LAND_CANON, LAND_ROUTE, LAND_CAMEL = "canon", "route", "camel"

LOOKBACK = timedelta(days=4)  # the earliest a dossier's message is sent before its anchor
OPEN_MIN = 7 * 60 + 30
CLOSE_MIN = 17 * 60
CUTOFF_MIN = 15 * 60
DAY_MIN = CLOSE_MIN - OPEN_MIN

DESK_DEPT = "Bộ phận Tiếp nhận và Trả kết quả"
CIVIL_DEPT = "Công chức Tư pháp - Hộ tịch"

# reasons each source can be made to dead-letter with, and their relative weights
MALFORMED_REASONS: dict[str, tuple[tuple[str, int], ...]] = {
    ONESTOP: (
        ("DECODE_ERROR", 20),
        ("SCHEMA_ERROR", 20),
        ("UNKNOWN_STATUS", 20),
        ("BAD_TIME", 20),
        ("NO_DOSSIER_KEY", 18),
        ("TOO_LARGE", 2),
    ),
    LAND: (
        ("DECODE_ERROR", 16),
        ("SCHEMA_ERROR", 16),
        ("UNKNOWN_STATUS", 16),
        ("BAD_TIME", 16),
        ("NO_DOSSIER_KEY", 16),
        ("AUTH_FAILED", 18),
        ("TOO_LARGE", 2),
    ),
    TAX: (
        ("DECODE_ERROR", 20),
        ("SCHEMA_ERROR", 20),
        ("UNKNOWN_STATUS", 20),
        ("BAD_TIME", 20),
        ("NO_DOSSIER_KEY", 20),
    ),
    CIVIL: (
        ("DECODE_ERROR", 20),
        ("SCHEMA_ERROR", 20),
        ("UNKNOWN_STATUS", 20),
        ("BAD_TIME", 20),
        ("NO_DOSSIER_KEY", 20),
    ),
}


# ------------------------------------------------------------------------------------------------
# configuration and catalogue


@dataclass(frozen=True)
class SimConfig:
    seed: int = 1
    dossiers: int = 1000
    start: date = date(2026, 11, 2)
    days: int = 30
    late_share: float = 0.15
    unreported_share: float = 0.05
    bypass_share: float = 0.03
    step_overdue_share: float = 0.10
    malformed_share: float = 0.005
    duplicate_share: float = 0.02
    out_of_order_share: float = 0.03
    security_code: str = "QNAM-VBDLIS-7f3a9c"
    max_message_bytes: int = 524288

    def __post_init__(self) -> None:
        if self.dossiers < 0:
            raise ValueError("dossiers must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        for name in (
            "late_share",
            "unreported_share",
            "bypass_share",
            "step_overdue_share",
            "malformed_share",
            "duplicate_share",
            "out_of_order_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")

    @property
    def horizon(self) -> datetime:
        """The end of the feed: nothing is sent at or after it."""
        return datetime.combine(self.start + timedelta(days=self.days), time(0), tzinfo=TZ)


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    name: str
    sector: str  # land | civil | other
    time_limit_wd: int

    @property
    def field_code(self) -> str:
        return {"land": "DD", "civil": "HT"}.get(self.sector, "KH")

    @property
    def field_name(self) -> str:
        return {"land": "Đất đai", "civil": "Hộ tịch"}.get(self.sector, "Khác")


def load_catalogue(path: Path) -> list[Procedure]:
    """The procedure catalogue (`procedures.csv`)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [
            Procedure(
                row["code"].strip(),
                row["name"].strip(),
                row["sector"].strip(),
                int(row["time_limit_wd"]),
            )
            for row in csv.DictReader(fh)
            if row.get("code", "").strip()
        ]


# realistic proportions of the catalogue's procedures (dossiers per 100); unknown codes weigh 1
PROCEDURE_WEIGHTS: dict[str, float] = {
    "1.001193": 30,  # birth registration
    "2.000635": 14,  # copy of an extract
    "1.004873": 12,  # marital-status certificate
    "1.000894": 8,  # marriage
    "1.000656": 6,  # death
    "2.000806": 1,  # marriage with a foreign element
    "1.013831": 10,  # land transfer
    "1.013978": 4,  # first registration
    "1.012815": 3,  # change of use without permission
    "1.013949": 2,  # allocation, lease, change of use
}
CIVIL_KIND: dict[str, str] = {
    "1.001193": "KHAI_SINH",
    "1.000894": "KET_HON",
    "2.000806": "KET_HON",
    "1.000656": "KHAI_TU",
    "2.000635": "TRICH_LUC",
    "1.004873": "XAC_NHAN_HON_NHAN",
}
# tax types noticed for land procedures
TAX_TYPES: dict[str, tuple[str, ...]] = {
    "1.013831": ("LPTB", "TNCN"),
    "1.013978": ("LPTB", "TSDD"),
    "1.013949": ("TSDD", "LPTB"),
    "1.012815": ("TSDD",),
}

# ------------------------------------------------------------------------------------------------
# the province

FAMILY = (
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý", "Trương", "Lương", "Thái", "Đinh", "Mai", "Tô",
)  # fmt: skip
MIDDLE = (
    "Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hồng", "Xuân", "Thu", "Đức", "Công", "Bảo", "Kim",
    "Mỹ", "Hữu", "Quang", "Thúy", "Anh", "Gia",
)  # fmt: skip
GIVEN = (
    "An", "Bình", "Cường", "Dũng", "Hoa", "Hương", "Lan", "Linh", "Long", "Mai", "Nam", "Ngân",
    "Nhung", "Phúc", "Quý", "Sơn", "Tâm", "Thắng", "Trang", "Tuấn", "Vinh", "Vy", "Yến", "Hạnh",
    "Hùng", "Khoa", "Thảo", "Trung", "Hải", "Duy", "Quỳnh", "Tài", "Hiếu", "Nga", "Phương",
)  # fmt: skip

# district number, district name, its communes/wards (kind, name)
DISTRICTS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("01", "Tam Kỳ", (("phường", "An Mỹ"), ("phường", "Bàn Thạch"), ("phường", "Hương Trà"),
                      ("xã", "Tam Thanh"), ("xã", "Tam Phú"))),
    ("02", "Hội An", (("phường", "Minh An"), ("phường", "Cẩm Phô"), ("xã", "Cẩm Thanh"),
                      ("xã", "Tân Hiệp"))),
    ("05", "Điện Bàn", (("phường", "Điện Bàn"), ("phường", "Điện An"), ("xã", "Điện Hồng"),
                        ("xã", "Điện Thọ"))),
    ("07", "Đại Lộc", (("xã", "Đại Hiệp"), ("xã", "Đại Lãnh"), ("xã", "Đại Quang"))),
    ("09", "Duy Xuyên", (("xã", "Duy Trung"), ("xã", "Duy Nghĩa"), ("xã", "Nam Phước"))),
    ("12", "Thăng Bình", (("xã", "Thăng Bình"), ("xã", "Bình Minh"), ("xã", "Bình Dương"),
                          ("xã", "Bình Trung"))),
    ("13", "Quế Sơn", (("xã", "Quế Phú"), ("xã", "Quế Xuân"))),
    ("15", "Núi Thành", (("xã", "Núi Thành"), ("xã", "Tam Xuân"), ("xã", "Tam Hải"))),
)  # fmt: skip


def ascii_fold(text: str) -> str:
    """Vietnamese to plain lower-case ASCII: `Đỗ Đức Vinh` -> `doducvinh`."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


@dataclass(frozen=True, slots=True)
class Officer:
    name: str
    title: str  # ChucDanh
    dept: str  # PhongBanXuLy / PhongBanNhan
    login: str  # the land system's officer code, cb.<folded name>


@dataclass(slots=True)
class Unit:
    code: str  # 000.SS.DD.H49
    name: str  # DonViXuLy
    kind: str  # land | commune
    district: str
    vendor: str  # the one-stop product the unit's desk runs
    tax_office: str
    desk: list[Officer] = field(default_factory=list)  # one-stop desk officers
    staff: list[Officer] = field(default_factory=list)  # specialists / civil-status clerks
    leaders: list[Officer] = field(default_factory=list)
    weight: float = 1.0


class Province:
    """Units and officers of one province (Quảng Nam, H49), made from a seed."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"province/{seed}")
        self._names: set[str] = set()
        self._logins: set[str] = set()
        self.land_units: list[Unit] = []
        self.communes: list[Unit] = []
        self.tax_officers: dict[str, Officer] = {}
        for index, (dnum, dname, communes) in enumerate(DISTRICTS):
            tax_office = f"Thuế cơ sở {index // 2 + 1} tỉnh Quảng Nam"
            branch_name = f"Chi nhánh Văn phòng đăng ký đất đai {dname}"
            branch = Unit(
                f"000.00.{dnum}.H49",
                branch_name,
                "land",
                dname,
                rng.choice(VENDORS),
                tax_office,
                weight=rng.uniform(0.6, 1.6),
            )
            branch.desk = [self._officer(rng, "Công chức một cửa", DESK_DEPT) for _ in range(2)]
            branch.staff = [
                self._officer(rng, "Chuyên viên", branch_name) for _ in range(rng.randint(4, 6))
            ]
            branch.leaders = [self._officer(rng, "Phó Giám đốc Chi nhánh", "Lãnh đạo Chi nhánh")]
            self.land_units.append(branch)
            self.tax_officers[tax_office] = self._officer(rng, "Công chức thuế", tax_office)
            numbers = sorted(rng.sample(range(11, 41), len(communes)))
            for num, (kind, cname) in zip(numbers, communes, strict=True):
                unit = Unit(
                    f"000.{num:02d}.{dnum}.H49",
                    f"UBND {kind} {cname}",
                    "commune",
                    dname,
                    rng.choice(VENDORS),
                    tax_office,
                    weight=rng.uniform(0.5, 1.8),
                )
                unit.desk = [
                    self._officer(rng, "Công chức một cửa", DESK_DEPT)
                    for _ in range(rng.randint(1, 2))
                ]
                unit.staff = [
                    self._officer(rng, "Công chức Tư pháp - Hộ tịch", CIVIL_DEPT)
                    for _ in range(rng.randint(1, 2))
                ]
                unit.leaders = [self._officer(rng, f"Chủ tịch UBND {kind}", unit.name)]
                self.communes.append(unit)
        self.land_weights = list(itertools.accumulate(u.weight for u in self.land_units))
        self.commune_weights = list(itertools.accumulate(u.weight for u in self.communes))

    def person(self, rng: random.Random) -> str:
        return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"

    def _officer(self, rng: random.Random, title: str, dept: str) -> Officer:
        name = self.person(rng)
        while name in self._names:
            name = self.person(rng)
        self._names.add(name)
        login = "cb." + ascii_fold(name)
        base, n = login, 2
        while login in self._logins:
            login, n = f"{base}{n}", n + 1
        self._logins.add(login)
        return Officer(name, title, dept, login)

    def units(self) -> list[Unit]:
        return [*self.land_units, *self.communes]


# ------------------------------------------------------------------------------------------------
# working time


class WorkClock:
    """Office-hour arithmetic (07:30-17:00 on working days) on top of the working calendar."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.cal = calendar

    def working(self, d: date) -> bool:
        return self.cal.is_working_day(d)

    def advance(self, t: datetime, minutes: int) -> datetime:
        """`t` moved forward by `minutes` of office time (a time out of hours starts at opening)."""
        d = t.date()
        m = t.hour * 60 + t.minute
        left = max(0, minutes)
        while True:
            if self.working(d):
                begin = max(m, OPEN_MIN)
                if begin < CLOSE_MIN:
                    room = CLOSE_MIN - begin
                    if left <= room:
                        return _at(d, begin + left)
                    left -= room
            d += timedelta(days=1)
            m = 0

    def minutes_between(self, a: datetime, b: datetime) -> int:
        """Office minutes in [a, b] (0 when b <= a)."""
        if b <= a:
            return 0
        total = 0
        d, m = a.date(), a.hour * 60 + a.minute
        end_d, end_m = b.date(), b.hour * 60 + b.minute
        while d <= end_d:
            if self.working(d):
                lo = max(m, OPEN_MIN)
                hi = min(end_m, CLOSE_MIN) if d == end_d else CLOSE_MIN
                total += max(0, hi - lo)
            d += timedelta(days=1)
            m = 0
        return total

    def due_date(self, r: datetime, n: int) -> datetime:
        """rules.md §2: the due date of a dossier received at `r` with an n-working-day limit."""
        if n == 0:
            if self.working(r.date()) and _minute(r) < CUTOFF_MIN:
                return _at(r.date(), CLOSE_MIN)
            return _at(self.cal.next_working_day(r.date()), CLOSE_MIN)
        e = r
        if not (self.working(r.date()) and _minute(r) < CLOSE_MIN):
            e = _at(self.cal.next_working_day(r.date()), OPEN_MIN)
        return _at(self.cal.add_working_days(e, n).date(), CLOSE_MIN)

    def move_due(self, due: datetime, start: datetime, end: datetime) -> datetime:
        if start >= due:
            return due
        k = self.cal.working_days_between(start, end)
        return self.cal.add_working_days(due, k) if k > 0 else due


def _at(d: date, minutes: int) -> datetime:
    return datetime(d.year, d.month, d.day, minutes // 60, minutes % 60, tzinfo=TZ)


def _minute(t: datetime) -> int:
    return t.hour * 60 + t.minute


# ------------------------------------------------------------------------------------------------
# dossiers, events, messages


@dataclass(slots=True)
class Dossier:
    seq: int
    key: str  # the hub's dossier key: one-stop code, or land:<id> / civil:<id>
    code: str | None  # one-stop code (None when bypassed)
    unit: Unit
    procedure: Procedure
    sector: str
    anchor: datetime  # receipt (or first sectoral event when bypassed)
    applicant: str
    id_number: str
    channel: str  # KenhThucHien 1/2/3
    vendor: str
    land_style: str
    land_id: str | None = None
    civil_id: str | None = None
    civil_kind: str | None = None
    land_id_on_events: bool = True
    due: datetime | None = None  # original due date
    due_current: datetime | None = None
    finished_at: datetime | None = None
    closed_at: datetime | None = None
    outcome: str = "result"  # result | refused | stopped | withdrawn
    late: bool = False
    unreported: bool = False
    bypass: bool = False
    step_overdue: bool = False
    apology: bool = False
    apology_on_time: bool = False  # an apology dated at or before the due date
    supplement: bool = False
    tax: bool = False
    submitted_at: datetime | None = None  # online submission (status 1)

    def summary(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "dossier": self.key,
            "sector": self.sector,
            "procedure": self.procedure.code,
            "unit": self.unit.code,
            "vendor": self.vendor if not self.bypass else None,
            "channel": self.channel,
            "anchor": iso(self.anchor),
            "due": iso(self.due),
            "due_current": iso(self.due_current),
            "finished_at": iso(self.finished_at),
            "closed_at": iso(self.closed_at),
            "outcome": self.outcome,
            "late": self.late,
            "unreported": self.unreported,
            "bypass": self.bypass,
            "step_overdue": self.step_overdue,
            "apology": self.apology,
            "apology_on_time": self.apology_on_time,
            "supplement": self.supplement,
            "tax": self.tax,
        }


@dataclass(slots=True)
class Ev:
    """One thing that happened in one system: `at` is when (its rule time for all but snapshots,
    which are pushed at `at` and carry the times in `a`)."""

    at: datetime
    source: str
    # onestop: snapshot step apology; land: handover supp_req supp_recv tax_result close info;
    # tax: tax; civil: civil
    kind: str
    a: dict[str, Any]
    follower: bool = False  # ends a step's wait (rules.md §5 STEP_OVERDUE)


@dataclass(slots=True)
class Msg:
    """One message as sent: its source, items, explicit event time and send time, and noise."""

    sent_at: datetime
    event_time: datetime | None  # rules.md §6; None when it has no rule time or is malformed
    source: str
    dossier: Dossier
    evs: tuple[Ev, ...]
    note: str = ""  # "", duplicate, late, late-day, malformed:<REASON>
    malformed: str | None = None
    variant: int = 0  # picks among ways of rendering (malformed shapes, vendor details)


# ------------------------------------------------------------------------------------------------
# the generator

Action = Callable[[datetime], object]


class Simulation:
    def __init__(
        self,
        config: SimConfig,
        catalogue: Sequence[Procedure],
        calendar: WorkingCalendar,
        province: Province | None = None,
    ) -> None:
        if not catalogue:
            raise ValueError("the procedure catalogue is empty")
        self.cfg = config
        self.clock = WorkClock(calendar)
        self.cal = calendar
        self.province = province or Province(config.seed)
        self.procedures = list(catalogue)
        self.proc_cum = list(
            itertools.accumulate(PROCEDURE_WEIGHTS.get(p.code, 1.0) for p in self.procedures)
        )
        self.on_dossier: Callable[[Dossier], None] | None = None
        self._counters: dict[tuple[str, date], int] = {}
        self._land_seq = 1000
        self._civil_seq = 500
        self._civil_event_seq = 3000
        self._notice_seq = 60000

    # -- anchors ---------------------------------------------------------------------------------

    def _anchors(self, rng: random.Random) -> Iterator[datetime]:
        """Receipt times of all dossiers, in order: spread over the span's working days."""
        cfg = self.cfg
        days = [cfg.start + timedelta(days=i) for i in range(cfg.days)]
        working = [d for d in days if self.clock.working(d)] or days
        base, extra = divmod(cfg.dossiers, len(working))
        bonus = set(rng.sample(range(len(working)), extra))
        for i, d in enumerate(working):
            n = base + (1 if i in bonus else 0)
            minutes = sorted(rng.randint(OPEN_MIN - 20, CLOSE_MIN + 5) for _ in range(n))
            for m in minutes:
                yield _at(d, m)

    # -- the merged feed -------------------------------------------------------------------------

    def messages(self) -> Iterator[Msg]:
        cfg = self.cfg
        horizon = cfg.horizon
        rng = random.Random(f"anchors/{cfg.seed}")
        heap: list[tuple[datetime, int, Msg]] = []
        order = itertools.count()
        for seq, anchor in enumerate(self._anchors(rng)):
            bound = anchor - LOOKBACK
            while heap and heap[0][0] < bound:
                yield heapq.heappop(heap)[2]
            dossier, msgs = self.dossier(seq, anchor)
            if self.on_dossier is not None:
                self.on_dossier(dossier)
            for m in msgs:
                if m.sent_at < horizon:
                    heapq.heappush(heap, (m.sent_at, next(order), m))
        while heap:
            yield heapq.heappop(heap)[2]

    # -- one dossier -----------------------------------------------------------------------------

    def _pick_procedure(self, rng: random.Random) -> Procedure:
        x = rng.random() * self.proc_cum[-1]
        for proc, c in zip(self.procedures, self.proc_cum, strict=True):
            if x < c:
                return proc
        return self.procedures[-1]

    def _pick_unit(self, rng: random.Random, land: bool) -> Unit:
        units = self.province.land_units if land else self.province.communes
        cum = self.province.land_weights if land else self.province.commune_weights
        x = rng.random() * cum[-1]
        for unit, c in zip(units, cum, strict=True):
            if x < c:
                return unit
        return units[-1]

    def dossier(self, seq: int, anchor: datetime) -> tuple[Dossier, list[Msg]]:
        cfg = self.cfg
        rng = random.Random(f"dossier/{cfg.seed}/{seq}")
        proc = self._pick_procedure(rng)
        sector = proc.sector if proc.sector in ("land", "civil") else "civil"
        unit = self._pick_unit(rng, sector == "land")
        bypass = rng.random() < cfg.bypass_share
        code: str | None = None
        if not bypass:
            k = (unit.code, anchor.date())
            self._counters[k] = self._counters.get(k, 0) + 1
            code = f"{unit.code}-{anchor:%y%m%d}-{self._counters[k]:04d}"
        land_id = civil_id = None
        if sector == "land":
            self._land_seq += 1
            land_id = f"VBD-{anchor.year}-{self._land_seq:07d}"
        else:
            self._civil_seq += 1
            civil_id = f"HT.49.{anchor.year}.{self._civil_seq:06d}"
        key = code or (f"land:{land_id}" if land_id else f"civil:{civil_id}")
        d = Dossier(
            seq=seq,
            key=key,
            code=code,
            unit=unit,
            procedure=proc,
            sector=sector,
            anchor=anchor,
            applicant=self.province.person(rng),
            id_number=f"049{rng.randint(0, 999_999_999):09d}",
            channel=rng.choices(("1", "2", "3"), (55, 42, 3))[0],
            vendor=unit.vendor,
            land_style=rng.choice((LAND_CANON, LAND_CANON, LAND_ROUTE, LAND_CAMEL)),
            land_id=land_id,
            civil_id=civil_id,
            civil_kind=CIVIL_KIND.get(proc.code, "KHAI_SINH") if sector == "civil" else None,
            land_id_on_events=bypass or rng.random() < 0.85,
            bypass=bypass,
        )
        life = _Life(self, d, rng)
        evs = life.build()
        return d, self._messages(d, evs, rng)

    # -- events -> messages with noise -----------------------------------------------------------

    def _messages(self, d: Dossier, evs: list[Ev], rng: random.Random) -> list[Msg]:
        cfg = self.cfg
        evs.sort(key=lambda e: e.at)
        groups: list[list[Ev]] = []
        for ev in evs:
            last = groups[-1] if groups else None
            if (
                last is not None
                and ev.source == ONESTOP
                and ev.kind == "step"
                and last[-1].source == ONESTOP
                and last[-1].kind == "step"
                and ev.at - last[-1].at <= timedelta(minutes=30)
                and len(last) < 3
                and rng.random() < 0.2
            ):
                last.append(ev)
            else:
                groups.append([ev])
        out: list[Msg] = []
        for group in groups:
            at = group[-1].at
            sent = at + timedelta(seconds=rng.randint(3, 90))
            note = ""
            if rng.random() < cfg.out_of_order_share:
                if rng.random() < 0.1:
                    sent += timedelta(hours=rng.randint(20, 30), seconds=rng.randint(0, 3599))
                    note = "late-day"
                else:
                    sent += timedelta(seconds=rng.randint(180, 1500))
                    note = "late"
            msg = Msg(sent, _event_time(group), group[0].source, d, tuple(group), note)
            msg.variant = rng.randrange(1 << 30)
            out.append(msg)
            if rng.random() < cfg.duplicate_share:
                dup = Msg(
                    sent + timedelta(seconds=rng.randint(60, 2400)),
                    msg.event_time,
                    msg.source,
                    d,
                    msg.evs,
                    "duplicate",
                    None,
                    msg.variant,
                )
                out.append(dup)
            if rng.random() < cfg.malformed_share:
                reasons = MALFORMED_REASONS[msg.source]
                reason = rng.choices([r for r, _ in reasons], [w for _, w in reasons])[0]
                bad = Msg(
                    sent + timedelta(seconds=rng.randint(5, 120)),
                    None,
                    msg.source,
                    d,
                    msg.evs[:1],
                    f"malformed:{reason}",
                    reason,
                    rng.randrange(1 << 30),
                )
                out.append(bad)
        return out

    # -- ids ---------------------------------------------------------------------------------------

    def civil_event_id(self, t: datetime) -> str:
        self._civil_event_seq += 1
        return f"HT-49-{t:%Y-%m%d}-{self._civil_event_seq:06d}"

    def notice_no(self) -> str:
        self._notice_seq += 1
        return f"TB-{self._notice_seq}"


def _event_time(evs: Sequence[Ev]) -> datetime | None:
    """rules.md §6: the latest rule time of the message's items."""
    times: list[datetime] = []
    for ev in evs:
        if ev.source == ONESTOP and ev.kind == "snapshot":
            a = ev.a
            status = a["status"]
            if status != 1 and a.get("received") is not None:
                times.append(a["received"])
            if status == 3 and a.get("refused") is not None:
                times.append(a["refused"])
            if status == 9 and a.get("finished") is not None:
                times.append(a["finished"])
            if status == 10 and a.get("returned") is not None:
                times.append(a["returned"])
                if a.get("finished") is not None:
                    times.append(a["finished"])
        elif ev.source == LAND and ev.kind in ("tax_result", "info"):
            continue
        else:
            times.append(ev.at)
    return max(times) if times else None


# ------------------------------------------------------------------------------------------------
# lifecycles


SUPPLEMENT_REASONS = (
    "Bổ sung hợp đồng công chứng",
    "Bổ sung sơ đồ thửa đất",
    "Bổ sung bản chính giấy chứng sinh",
    "Bổ sung giấy tờ tùy thân của người yêu cầu",
    "Bổ sung văn bản thỏa thuận phân chia di sản",
)
APOLOGY_REASONS = (
    "Chờ kết quả xác minh nguồn gốc đất",
    "Hệ thống phần mềm chuyên ngành gặp sự cố",
    "Chờ cơ quan có liên quan phối hợp xác minh",
    "Số lượng hồ sơ tiếp nhận tăng đột biến",
)
INFO_CALLBACKS = ("CungCapSoBienNhan", "YeuCauCapNhatHoSo", "ThongBaoNhapSaiThuTuc")


class _Life:
    """Builds one dossier's events: a script of (gap, action) pairs run along a clock."""

    def __init__(self, sim: Simulation, d: Dossier, rng: random.Random) -> None:
        self.sim = sim
        self.d = d
        self.rng = rng
        self.clock = sim.clock
        self.evs: list[Ev] = []
        self.snapshot_status = 1
        self.received: datetime | None = None
        self.finished: datetime | None = None
        self.returned: datetime | None = None
        self.refused: datetime | None = None
        self.pause_from: datetime | None = None
        self.handovers: list[Ev] = []  # steps that may carry a step deadline
        self.notices: list[tuple[str, str, int]] = []
        self.outstanding = 0

    # -- low-level ---------------------------------------------------------------------------------

    def add(self, at: datetime, source: str, kind: str, follower: bool = False, **a: Any) -> Ev:
        ev = Ev(at, source, kind, a, follower)
        self.evs.append(ev)
        return ev

    def step(
        self, t: datetime, status: int, officer: Officer, content: str, handover: bool = False
    ) -> None:
        if self.d.code is None:
            return
        ev = self.add(
            t, ONESTOP, "step", True, status=status, officer=officer, content=content,
            deadline=None,
        )  # fmt: skip
        if handover:
            self.handovers.append(ev)

    def snapshot(self, t: datetime, status: int, first: bool = False) -> None:
        if self.d.code is None:
            return
        rng = self.rng
        omit = False
        if status in (3, 10) and (self.d.vendor == SESSION or rng.random() < 0.1):
            omit = True  # products that omit NgayTuChoi / NgayTra
        self.add(
            t + timedelta(seconds=rng.randint(5, 150)),
            ONESTOP,
            "snapshot",
            status=status,
            first=first,
            received=self.received,
            due=self.d.due if (self.received is not None and rng.random() < 0.95) else None,
            finished=self.finished,
            returned=None if omit else self.returned,
            refused=None if omit else self.refused,
        )

    def land(self, t: datetime, kind: str, follower: bool = False, **a: Any) -> Ev:
        return self.add(t, LAND, kind, follower, **a)

    def civil(self, t: datetime, status: str, officer: Officer) -> None:
        follower = status in ("DA_CO_KET_QUA", "TU_CHOI")
        self.add(
            t, CIVIL, "civil", follower, status=status, officer=officer,
            event_id=self.sim.civil_event_id(t),
        )  # fmt: skip

    def pause_start(self, t: datetime) -> None:
        self.pause_from = t

    def pause_end(self, t: datetime) -> None:
        d = self.d
        if self.pause_from is not None and d.due_current is not None:
            d.due_current = self.clock.move_due(d.due_current, self.pause_from, t)
        self.pause_from = None

    # -- timing ------------------------------------------------------------------------------------

    def run(self, start: datetime, script: list[tuple[str, Action]]) -> datetime:
        rng, clock, d = self.rng, self.clock, self.d
        finish_index = max((i for i, (g, _) in enumerate(script) if g in ("W", "O")), default=-1)
        t = start
        for i, (gap, act) in enumerate(script):
            if gap == "0":
                pass
            elif gap == "q":
                t = clock.advance(t, rng.randint(1, 12))
            elif gap == "a":  # the applicant's time: half a day to a week
                t = clock.advance(t, rng.randint(240, 5 * DAY_MIN))
            elif gap == "r":  # the one-stop system records the closing within the grace
                t = clock.advance(t, rng.randint(1, 360))
            elif gap == "p":  # after the finish: result handed over later
                t = clock.advance(t, rng.randint(5, 2 * DAY_MIN))
            elif gap == "O" and d.due_current is not None:  # the late finish
                base = max(t, d.due_current)
                t = clock.advance(base + timedelta(minutes=1), rng.randint(20, 4 * DAY_MIN))
            elif gap in ("w", "W", "O"):
                if d.due_current is None or i > finish_index:
                    t = clock.advance(t, rng.randint(15, DAY_MIN))
                else:
                    left_w = sum(1 for g, _ in script[i : finish_index + 1] if g in "wWO")
                    left_q = sum(1 for g, _ in script[i : finish_index + 1] if g == "q")
                    room = clock.minutes_between(t, d.due_current) - 12 * left_q - 1
                    share = rng.uniform(0.15, 0.9) / max(1, left_w)
                    t = clock.advance(t, max(1, int(room * share)))
            before = len(self.evs)
            act(t)
            t = max([t, *(e.at for e in self.evs[before:])])
        return t

    # -- the lifecycle -----------------------------------------------------------------------------

    def build(self) -> list[Ev]:
        d, rng, cfg = self.d, self.rng, self.sim.cfg
        proc = d.procedure
        d.due = self.clock.due_date(d.anchor, proc.time_limit_wd)
        if d.bypass and d.sector == "land":
            d.due = None  # land messages carry no procedure code
        d.due_current = d.due
        roll = rng.random()
        if not d.bypass and roll < 0.015:
            d.outcome = "refused"
        elif roll < 0.03:
            d.outcome = "stopped" if d.sector == "civil" else "withdrawn"
        if d.outcome == "result" and d.due is not None:
            d.late = rng.random() < cfg.late_share
        if d.outcome != "refused" and not d.bypass:
            d.unreported = rng.random() < cfg.unreported_share
        d.step_overdue = rng.random() < cfg.step_overdue_share
        d.supplement = rng.random() < (0.12 if d.sector == "land" else 0.06)
        d.tax = (
            d.sector == "land"
            and not d.bypass
            and d.outcome == "result"
            and proc.code in TAX_TYPES
            and rng.random() < 0.7
        )
        if d.code is not None and d.channel == "2":
            d.submitted_at = d.anchor - timedelta(minutes=rng.randint(20, 3 * 24 * 60))
            self.snapshot_at_submission(d.submitted_at)
        script = self.land_script() if d.sector == "land" else self.civil_script()
        self.run(d.anchor, script)
        if d.late and d.code is not None and d.due_current is not None and rng.random() < 0.6:
            self.apologise()
        self.assign_deadlines()
        return self.evs

    def snapshot_at_submission(self, t: datetime) -> None:
        self.add(t, ONESTOP, "snapshot", status=1, first=True, received=None, due=None,
                 finished=None, returned=None, refused=None)  # fmt: skip

    def receipt(self, desk: Officer) -> Action:
        def act(t: datetime) -> None:
            self.received = t
            self.step(t, 2, desk, "Tiếp nhận hồ sơ")
            self.snapshot(t, 2, first=self.d.submitted_at is None)

        return act

    def closing_steps(self, desk: Officer, script: list[tuple[str, Action]]) -> None:
        d = self.d
        if d.code is None or d.unreported:
            return
        if d.outcome == "result":

            def done(t: datetime) -> None:
                self.finished = t
                self.step(t, 9, desk, "Đã xử lý xong, chuyển kết quả về Bộ phận Một cửa")
                if self.rng.random() < 0.85:
                    self.snapshot(t, 9)

            def returned(t: datetime) -> None:
                self.returned = t
                self.step(t, 10, desk, "Trả kết quả cho công dân")
                self.snapshot(t, 10)

            script += [("r", done), ("p", returned)]
        else:
            status = 7 if d.outcome == "withdrawn" else 8
            text = "Công dân yêu cầu rút hồ sơ" if status == 7 else "Dừng xử lý hồ sơ"

            def stop(t: datetime) -> None:
                self.step(t, status, desk, text)
                self.snapshot(t, status)

            script.append(("r", stop))

    def refusal(self, desk: Officer) -> Action:
        def act(t: datetime) -> None:
            self.refused = t
            self.d.closed_at = t
            self.step(t, 3, desk, "Từ chối tiếp nhận: hồ sơ không đủ điều kiện")
            self.snapshot(t, 3)

        return act

    def supplement_request(self, desk: Officer, land: bool) -> Action:
        reason = self.rng.choice(SUPPLEMENT_REASONS)

        def act(t: datetime) -> None:
            self.pause_start(t)
            if land:
                self.land(t, "supp_req", True, pausing=True, note=reason)
                self.step(self.clock.advance(t, self.rng.randint(1, 10)), 5, desk,
                          f"Yêu cầu bổ sung: {reason}")  # fmt: skip
            else:
                self.step(t, 5, desk, f"Yêu cầu bổ sung: {reason}")
            self.snapshot(t, 5)

        return act

    def supplement_received(self, officer: Officer, land: bool) -> Action:
        def act(t: datetime) -> None:
            end = t
            if land:
                new_due = self.d.due_current
                self.land(t, "supp_recv", new_due=new_due)
                if self.d.code is not None:
                    end = self.clock.advance(t, self.rng.randint(1, 10))
            if self.d.code is not None:
                self.step(end, 4, officer, "Tiếp nhận hồ sơ bổ sung, tiếp tục xử lý", True)
            self.pause_end(end)

        return act

    def finish_event(self, act: Action) -> Action:
        def wrapped(t: datetime) -> None:
            act(t)
            if self.d.outcome == "result":
                self.d.finished_at = t
            self.d.closed_at = t
            if self.d.due_current is not None and self.d.outcome == "result":
                self.d.late = t > self.d.due_current

        return wrapped

    # civil-status -----------------------------------------------------------------------------

    def civil_script(self) -> list[tuple[str, Action]]:
        d, rng = self.d, self.rng
        unit = d.unit
        desk = rng.choice(unit.desk)
        clerk = rng.choice(unit.staff)
        s: list[tuple[str, Action]] = []
        if not d.bypass:
            s.append(("0", self.receipt(desk)))
            if d.outcome == "refused":
                s.append(("W", self.refusal(desk)))
                return s

            def hand(t: datetime) -> None:
                self.step(t, 4, clerk, "Chuyển công chức hộ tịch xử lý", True)
                if rng.random() < 0.7:
                    self.snapshot(t, 4)

            s.append(("w", hand))
            s.append(("q", lambda t: self.civil(t, "TIEP_NHAN", clerk)))
        else:
            s.append(("0", lambda t: self.civil(t, "TIEP_NHAN", clerk)))
        s.append(("w", lambda t: self.civil(t, "DANG_XU_LY", clerk)))
        if d.civil_kind in ("KET_HON", "XAC_NHAN_HON_NHAN", "KHAI_TU") and rng.random() < 0.2:
            s.append(("w", lambda t: self.civil(t, "CHO_XAC_MINH", clerk)))
        if d.supplement and not d.bypass:
            s.append(("w", self.supplement_request(desk, land=False)))
            s.append(("a", self.supplement_received(clerk, land=False)))
        status = "DA_CO_KET_QUA" if d.outcome == "result" else "TU_CHOI"
        s.append(
            ("O" if d.late else "W", self.finish_event(lambda t: self.civil(t, status, clerk)))
        )
        self.closing_steps(desk, s)
        return s

    # land -------------------------------------------------------------------------------------

    def land_script(self) -> list[tuple[str, Action]]:
        d, rng = self.d, self.rng
        unit = d.unit
        desk = rng.choice(unit.desk)
        a, b, c = (rng.choice(unit.staff) for _ in range(3))
        leader = rng.choice(unit.leaders)
        s: list[tuple[str, Action]] = []

        def handover(frm: str, to: Officer, dept: str, code: str, text: str) -> Action:
            def act(t: datetime) -> None:
                ev = self.land(
                    t, "handover", True, frm=frm, to=to, dept=dept, code=code, text=text,
                    deadline=None,
                )  # fmt: skip
                self.handovers.append(ev)

            return act

        if not d.bypass:
            s.append(("0", self.receipt(desk)))
            if d.outcome == "refused":
                s.append(("W", self.refusal(desk)))
                return s

            def hand(t: datetime) -> None:
                self.step(t, 4, a, "Chuyển hồ sơ để thẩm định", True)
                if rng.random() < 0.8:
                    self.snapshot(t, 4)

            s.append(("w", hand))
            s.append(("q", handover("cb.motcua", a, "Bộ phận tiếp nhận hồ sơ", "TIEP_NHAN",
                                    "Tiếp nhận hồ sơ")))  # fmt: skip
        else:
            s.append(("0", handover("cb.motcua", a, "Bộ phận tiếp nhận hồ sơ", "TIEP_NHAN",
                                    "Tiếp nhận hồ sơ")))  # fmt: skip
        if rng.random() < 0.04:
            s.append(("q", lambda t: self.land(t, "info", callback=rng.choice(INFO_CALLBACKS))))
        s.append(("w", handover(a.login, b, "Tổ thẩm định hồ sơ", "THAM_DINH", "Thẩm định hồ sơ")))
        if d.procedure.code in ("1.013978", "1.013949") and rng.random() < 0.6:
            s.append(("w", handover(b.login, c, "Tổ đo đạc bản đồ", "DO_DAC",
                                    "Đo đạc, kiểm tra thực địa")))  # fmt: skip
        if d.supplement:
            s.append(("w", self.supplement_request(desk, land=True)))
            s.append(("a", self.supplement_received(b, land=True)))
        if d.tax:
            self.tax_script(s, desk, b)
        s.append(("w", handover(b.login, leader, "Lãnh đạo Chi nhánh", "KY_DUYET",
                                "Trình lãnh đạo ký duyệt")))  # fmt: skip
        if d.outcome == "result":
            s.append(("w", handover(leader.login, c, "Tổ cấp Giấy chứng nhận", "IN_GCN",
                                    "In và trả Giấy chứng nhận")))  # fmt: skip
        end = 0 if d.outcome == "result" else 2

        def close(t: datetime) -> None:
            self.land(t, "close", True, officer=c, result=end)

        s.append(("O" if d.late else "W", self.finish_event(close)))
        self.closing_steps(desk, s)
        return s

    def tax_script(self, s: list[tuple[str, Action]], desk: Officer, officer: Officer) -> None:
        d, rng = self.d, self.rng
        office = d.unit.tax_office
        tax_officer = self.sim.province.tax_officers[office]
        types = TAX_TYPES[d.procedure.code]
        notices = [
            (self.sim.notice_no(), tt, rng.randint(5, 900) * 100_000)
            for tt in types
            if rng.random() < 0.85 or tt == types[0]
        ]

        def transfer(t: datetime) -> None:
            ev = self.land(
                t, "handover", True, frm=officer.login, to=tax_officer, dept=office,
                code="CHUYEN_THUE", text="Chuyển thông tin địa chính sang cơ quan thuế",
                deadline=None,
            )  # fmt: skip
            self.handovers.append(ev)

        def obligation(t: datetime) -> None:
            self.add(t, TAX, "tax", event="OBLIGATION_RECEIVED", notice=None, office=office,
                     event_id=_uuid(rng))  # fmt: skip

        def issue(i: int) -> Action:
            def act(t: datetime) -> None:
                no, tt, amount = notices[i]
                first = i == 0
                if first:
                    self.pause_start(t)
                self.add(t, TAX, "tax", first, event="NOTICE_ISSUED", notice=no, type=tt,
                         amount=amount, office=office, event_id=_uuid(rng))  # fmt: skip
                if first:
                    self.step(self.clock.advance(t, rng.randint(1, 10)), 6, desk,
                              "Thông báo thực hiện nghĩa vụ tài chính")  # fmt: skip
                    self.snapshot(t, 6)

            return act

        cancel_last = len(notices) > 1 and rng.random() < 0.1

        def pay(i: int) -> Action:
            def act(t: datetime) -> None:
                no, tt, amount = notices[i]
                kind = "NOTICE_CANCELLED" if cancel_last and i == len(notices) - 1 else "PAID"
                self.add(t, TAX, "tax", event=kind, notice=no, type=tt, amount=amount,
                         office=office, event_id=_uuid(rng))  # fmt: skip

            return act

        def result(t: datetime) -> None:
            self.land(t, "tax_result", notices=[(n, tt) for n, tt, _ in notices])

        def resume(t: datetime) -> None:
            self.step(t, 4, officer, "Tiếp tục xử lý sau khi hoàn thành nghĩa vụ tài chính", True)
            self.pause_end(t)

        s.append(("w", transfer))
        s.append(("q", obligation))
        s.append(("w", issue(0)))
        s += [("q", issue(i)) for i in range(1, len(notices))]
        s.append(("a", pay(0)))
        s += [("q", pay(i)) for i in range(1, len(notices))]
        s.append(("q", result))
        s.append(("q", resume))
        s.append(("q", lambda t: self.land(
            t, "handover", True, frm=tax_officer.login, to=officer, dept="Tổ thẩm định hồ sơ",
            code="THAM_DINH", text="Tiếp tục thẩm định sau khi có kết quả thuế", deadline=None,
        )))  # fmt: skip

    # apology and step deadlines -----------------------------------------------------------------

    def apologise(self) -> None:
        d, rng, clock = self.d, self.rng, self.clock
        assert d.due_current is not None and self.received is not None
        due = d.due_current
        lo = max(self.received, self.sim.cal.sub_working_days(due, 1))
        span = clock.minutes_between(lo, due)
        if rng.random() < 0.2 and d.finished_at is not None and d.finished_at > due:
            # a late apology: after the due date, before the finish
            room = max(1, clock.minutes_between(due, d.finished_at) - 1)
            at = min(clock.advance(due, rng.randint(1, room)), d.finished_at - timedelta(minutes=1))
        else:
            at = clock.advance(lo, rng.randint(0, max(0, span - 1)))
            at = min(at, due)
        if at <= self.received:
            return
        new_due = _at((d.finished_at or due).date(), CLOSE_MIN)
        if d.finished_at is not None and d.finished_at > new_due:
            new_due = _at(self.sim.cal.next_working_day(d.finished_at.date()), CLOSE_MIN)
        signer = rng.choice(d.unit.leaders)
        self.add(at, ONESTOP, "apology", reason=rng.choice(APOLOGY_REASONS), new_due=new_due,
                 signer=signer)  # fmt: skip
        d.apology = True
        d.apology_on_time = at <= due

    def assign_deadlines(self) -> None:
        d, rng, clock, cal = self.d, self.rng, self.clock, self.sim.cal
        followers = sorted(e.at for e in self.evs if e.follower)

        def next_follower(t: datetime) -> datetime | None:
            for f in followers:
                if f > t:
                    return f
            return None

        overdue: Ev | None = None
        if d.step_overdue:
            best = timedelta(minutes=2)
            for ev in self.handovers:
                f = next_follower(ev.at)
                if f is not None and f - ev.at >= best:
                    best, overdue = f - ev.at, ev
            if overdue is None:
                d.step_overdue = False
        for ev in self.handovers:
            f = next_follower(ev.at)
            if ev is overdue:
                assert f is not None
                if f.date() > ev.at.date() and _minute(ev.at) < CLOSE_MIN:
                    deadline = _at(ev.at.date(), CLOSE_MIN)
                else:
                    deadline = ev.at + (f - ev.at) / 2
                    deadline = deadline.replace(second=0, microsecond=0)
                    if deadline <= ev.at:
                        deadline = ev.at + timedelta(minutes=1)
                ev.a["deadline"] = deadline
                ev.a["deadline_days"] = None
                if ev.source == LAND and rng.random() < 0.4:
                    k = 1
                    if cal.add_working_days(ev.at, k) < f:
                        ev.a["deadline"] = cal.add_working_days(ev.at, k)
                        ev.a["deadline_days"] = k
                continue
            if rng.random() >= (0.6 if ev.source == LAND else 0.5):
                continue
            target = f if f is not None else ev.at
            if ev.source == LAND and rng.random() < 0.4:
                k = 1
                while cal.add_working_days(ev.at, k) < target and k < 1000:
                    k += 1
                k += rng.choice((0, 0, 1))
                ev.a["deadline"] = cal.add_working_days(ev.at, k)
                ev.a["deadline_days"] = k - 0.5 if rng.random() < 0.2 else k
            else:
                day = target.date()
                if _minute(target) > CLOSE_MIN or not clock.working(day):
                    day = cal.next_working_day(day)
                deadline = _at(day, CLOSE_MIN)
                if rng.random() < 0.3:
                    deadline = cal.add_working_days(deadline, rng.randint(1, 2))
                ev.a["deadline"] = deadline
                ev.a["deadline_days"] = None


def _uuid(rng: random.Random) -> str:
    n = rng.getrandbits(128)
    n = (n & ~(0xF000 << 64)) | (4 << 76)
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
