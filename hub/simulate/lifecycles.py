"""What happens to a dossier over time: its outcome, then the script of its sector (land with its
tax, civil status), as the one-stop desk, the land and civil systems and the tax office see it.

`live` decides the dossier's fate from the configured shares and runs its script on a `Life`; the
apology and step deadlines are fitted afterwards (`deadlines`), once the times are known.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from hub.simulate.catalogue import TAX_TYPES
from hub.simulate.config import SimConfig
from hub.simulate.deadlines import apologise, assign_deadlines
from hub.simulate.life import Action, Life
from hub.simulate.people import Officer
from hub.simulate.records import Ev
from hub.simulate.systems import TAX

INFO_CALLBACKS = ("CungCapSoBienNhan", "YeuCauCapNhatHoSo", "ThongBaoNhapSaiThuTuc")


def live(life: Life, cfg: SimConfig, tax_officers: Mapping[str, Officer]) -> list[Ev]:
    """Decide what becomes of `life.d` (outcome, lateness, shares), then make its events."""
    d, rng = life.d, life.rng
    proc = d.procedure
    d.due = life.clock.due_date(d.anchor, proc.time_limit_wd)
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
        life.snapshot_at_submission(d.submitted_at)
    script = land_script(life, tax_officers) if d.sector == "land" else civil_script(life)
    life.run(d.anchor, script)
    if d.late and d.code is not None and d.due_current is not None and rng.random() < 0.6:
        apologise(life)
    assign_deadlines(life)
    return life.evs


# ------------------------------------------------------------------------------------------------
# civil-status


def civil_script(life: Life) -> list[tuple[str, Action]]:
    d, rng = life.d, life.rng
    unit = d.unit
    desk = rng.choice(unit.desk)
    clerk = rng.choice(unit.staff)
    s: list[tuple[str, Action]] = []
    if not d.bypass:
        s.append(("0", life.receipt(desk)))
        if d.outcome == "refused":
            s.append(("W", life.refusal(desk)))
            return s

        def hand(t: datetime) -> None:
            life.step(t, 4, clerk, "Chuyển công chức hộ tịch xử lý", True)
            if rng.random() < 0.7:
                life.snapshot(t, 4)

        s.append(("w", hand))
        s.append(("q", lambda t: life.civil(t, "TIEP_NHAN", clerk)))
    else:
        s.append(("0", lambda t: life.civil(t, "TIEP_NHAN", clerk)))
    s.append(("w", lambda t: life.civil(t, "DANG_XU_LY", clerk)))
    if d.civil_kind in ("KET_HON", "XAC_NHAN_HON_NHAN", "KHAI_TU") and rng.random() < 0.2:
        s.append(("w", lambda t: life.civil(t, "CHO_XAC_MINH", clerk)))
    if d.supplement and not d.bypass:
        s.append(("w", life.supplement_request(desk, land=False)))
        s.append(("a", life.supplement_received(clerk, land=False)))
    status = "DA_CO_KET_QUA" if d.outcome == "result" else "TU_CHOI"
    s.append(("O" if d.late else "W", life.finish_event(lambda t: life.civil(t, status, clerk))))
    life.closing_steps(desk, s)
    return s


# ------------------------------------------------------------------------------------------------
# land, with its tax


def land_script(life: Life, tax_officers: Mapping[str, Officer]) -> list[tuple[str, Action]]:
    d, rng = life.d, life.rng
    unit = d.unit
    desk = rng.choice(unit.desk)
    a, b, c = (rng.choice(unit.staff) for _ in range(3))
    leader = rng.choice(unit.leaders)
    s: list[tuple[str, Action]] = []

    def handover(frm: str, to: Officer, dept: str, code: str, text: str) -> Action:
        def act(t: datetime) -> None:
            ev = life.land(
                t, "handover", True, frm=frm, to=to, dept=dept, code=code, text=text,
                deadline=None,
            )  # fmt: skip
            life.handovers.append(ev)

        return act

    if not d.bypass:
        s.append(("0", life.receipt(desk)))
        if d.outcome == "refused":
            s.append(("W", life.refusal(desk)))
            return s

        def hand(t: datetime) -> None:
            life.step(t, 4, a, "Chuyển hồ sơ để thẩm định", True)
            if rng.random() < 0.8:
                life.snapshot(t, 4)

        s.append(("w", hand))
        s.append(("q", handover("cb.motcua", a, "Bộ phận tiếp nhận hồ sơ", "TIEP_NHAN",
                                "Tiếp nhận hồ sơ")))  # fmt: skip
    else:
        s.append(("0", handover("cb.motcua", a, "Bộ phận tiếp nhận hồ sơ", "TIEP_NHAN",
                                "Tiếp nhận hồ sơ")))  # fmt: skip
    if rng.random() < 0.04:
        s.append(("q", lambda t: life.land(t, "info", callback=rng.choice(INFO_CALLBACKS))))
    s.append(("w", handover(a.login, b, "Tổ thẩm định hồ sơ", "THAM_DINH", "Thẩm định hồ sơ")))
    if d.procedure.code in ("1.013978", "1.013949") and rng.random() < 0.6:
        s.append(("w", handover(b.login, c, "Tổ đo đạc bản đồ", "DO_DAC",
                                "Đo đạc, kiểm tra thực địa")))  # fmt: skip
    if d.supplement:
        s.append(("w", life.supplement_request(desk, land=True)))
        s.append(("a", life.supplement_received(b, land=True)))
    if d.tax:
        tax_script(life, s, desk, b, tax_officers)
    s.append(("w", handover(b.login, leader, "Lãnh đạo Chi nhánh", "KY_DUYET",
                            "Trình lãnh đạo ký duyệt")))  # fmt: skip
    if d.outcome == "result":
        s.append(("w", handover(leader.login, c, "Tổ cấp Giấy chứng nhận", "IN_GCN",
                                "In và trả Giấy chứng nhận")))  # fmt: skip
    end = 0 if d.outcome == "result" else 2

    def close(t: datetime) -> None:
        life.land(t, "close", True, officer=c, result=end)

    s.append(("O" if d.late else "W", life.finish_event(close)))
    life.closing_steps(desk, s)
    return s


def tax_script(
    life: Life,
    s: list[tuple[str, Action]],
    desk: Officer,
    officer: Officer,
    tax_officers: Mapping[str, Officer],
) -> None:
    d, rng = life.d, life.rng
    office = d.unit.tax_office
    tax_officer = tax_officers[office]
    types = TAX_TYPES[d.procedure.code]
    notices = [
        (life.serials.notice_no(), tt, rng.randint(5, 900) * 100_000)
        for tt in types
        if rng.random() < 0.85 or tt == types[0]
    ]

    def transfer(t: datetime) -> None:
        ev = life.land(
            t, "handover", True, frm=officer.login, to=tax_officer, dept=office,
            code="CHUYEN_THUE", text="Chuyển thông tin địa chính sang cơ quan thuế",
            deadline=None,
        )  # fmt: skip
        life.handovers.append(ev)

    def obligation(t: datetime) -> None:
        life.add(t, TAX, "tax", event="OBLIGATION_RECEIVED", notice=None, office=office,
                 event_id=_uuid(rng))  # fmt: skip

    def issue(i: int) -> Action:
        def act(t: datetime) -> None:
            no, tt, amount = notices[i]
            first = i == 0
            if first:
                life.pause_start(t)
            life.add(t, TAX, "tax", first, event="NOTICE_ISSUED", notice=no, type=tt,
                     amount=amount, office=office, event_id=_uuid(rng))  # fmt: skip
            if first:
                life.step(life.clock.advance(t, rng.randint(1, 10)), 6, desk,
                          "Thông báo thực hiện nghĩa vụ tài chính")  # fmt: skip
                life.snapshot(t, 6)

        return act

    cancel_last = len(notices) > 1 and rng.random() < 0.1

    def pay(i: int) -> Action:
        def act(t: datetime) -> None:
            no, tt, amount = notices[i]
            kind = "NOTICE_CANCELLED" if cancel_last and i == len(notices) - 1 else "PAID"
            life.add(t, TAX, "tax", event=kind, notice=no, type=tt, amount=amount,
                     office=office, event_id=_uuid(rng))  # fmt: skip

        return act

    def result(t: datetime) -> None:
        life.land(t, "tax_result", notices=[(n, tt) for n, tt, _ in notices])

    def resume(t: datetime) -> None:
        life.step(t, 4, officer, "Tiếp tục xử lý sau khi hoàn thành nghĩa vụ tài chính", True)
        life.pause_end(t)

    s.append(("w", transfer))
    s.append(("q", obligation))
    s.append(("w", issue(0)))
    s += [("q", issue(i)) for i in range(1, len(notices))]
    s.append(("a", pay(0)))
    s += [("q", pay(i)) for i in range(1, len(notices))]
    s.append(("q", result))
    s.append(("q", resume))
    s.append(("q", lambda t: life.land(
        t, "handover", True, frm=tax_officer.login, to=officer, dept="Tổ thẩm định hồ sơ",
        code="THAM_DINH", text="Tiếp tục thẩm định sau khi có kết quả thuế", deadline=None,
    )))  # fmt: skip


def _uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from `rng` (uuid4 would not repeat with the seed)."""
    n = rng.getrandbits(128)
    n = (n & ~(0xF000 << 64)) | (4 << 76)
    n = (n & ~(0xC000 << 48)) | (0x8000 << 48)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
