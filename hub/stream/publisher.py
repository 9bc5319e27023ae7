"""The judge's side of the summary topic (hub/stream/summaries.py reads it).

After each evaluation the judge hands `SummaryPublisher` the dossier's facts and timeline; it
turns them into a `hub.domain.stats.Summary` (times only: receipt, closing, due dates in force,
pauses, alert intervals, holders, §8 steps, §9 findings; no "now" and no personal data) and
queues it when it differs from the last one sent for that dossier (an LRU of digests; after a
restart it re-sends, which compaction absorbs). A summary changes only when an event arrives,
not as time passes, so the stream is as quiet as the inbound feed. The judge loop sends what is
queued in the batch's transaction, with the clock records of the partitions whose "now" moved.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from hub.domain.calendar import WorkingCalendar
from hub.domain.dossier import DossierFacts
from hub.domain.rules import Transition
from hub.domain.stats import summarize
from hub.protocol import clock_key, encode_summary_clock


class SummaryPublisher:
    """Collects the judge's changed summaries; the judge loop sends them with each batch.

    A summary is made as its dossier is judged, not when the batch is sent: an error in it is
    then the judgement's, and dead-letters that one record (hub/stream/judge.py) rather than
    failing the batch again and again."""

    def __init__(
        self, calendar: WorkingCalendar, grace_working_days: int, capacity: int = 50000
    ) -> None:
        self.calendar = calendar
        self.grace = grace_working_days
        self.capacity = capacity
        self.pending: list[tuple[bytes, bytes]] = []
        self._sent: OrderedDict[bytes, bytes] = OrderedDict()
        self._clock_sent: dict[int, int] = {}

    def collect(
        self,
        key: bytes,
        facts: DossierFacts,
        transitions: list[Transition] | None = None,
        unchanged: bool = False,
    ) -> None:
        """`transitions`: the timeline of `facts` under this publisher's grace, if known.
        `unchanged`: these are the facts last collected for `key` (the same objects), whose
        summary is then the one sent, or one already equal to it: nothing to do while its
        digest is held."""
        if unchanged and key in self._sent:
            return
        value = summarize(facts, self.calendar, self.grace, transitions).dumps()
        digest = hashlib.blake2b(value, digest_size=16).digest()
        if self._sent.get(key) == digest:
            return
        self._sent[key] = digest
        self._sent.move_to_end(key)
        while len(self._sent) > self.capacity:
            self._sent.popitem(last=False)
        self.pending.append((key, value))

    def take(self) -> list[tuple[bytes, bytes]]:
        out, self.pending = self.pending, []
        return out

    def clock(self, now_by_partition: dict[int, int | None]) -> list[tuple[bytes, bytes]]:
        """The clock records of the partitions whose "now" moved since last sent."""
        out: list[tuple[bytes, bytes]] = []
        for partition, now in now_by_partition.items():
            if now is None or self._clock_sent.get(partition) == now:
                continue
            self._clock_sent[partition] = now
            out.append((clock_key(partition), encode_summary_clock(now)))
        return out
