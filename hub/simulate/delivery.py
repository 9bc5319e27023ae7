"""How a dossier's events reach the hub: as messages, each sent a little after what it reports,
some late, some twice, some malformed (the shares of `SimConfig`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from hub.simulate.config import SimConfig
from hub.simulate.records import Dossier, Ev, Msg
from hub.simulate.systems import LAND, MALFORMED_REASONS, ONESTOP


def deliver(d: Dossier, evs: list[Ev], rng: random.Random, cfg: SimConfig) -> list[Msg]:
    """`d`'s events as its systems send them: grouped into messages, each with its send time, and
    the noise of the configured shares (late sends, redeliveries, malformed copies)."""
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
        msg = Msg(sent, event_time(group), group[0].source, d, tuple(group), note)
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


def event_time(evs: Sequence[Ev]) -> datetime | None:
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
