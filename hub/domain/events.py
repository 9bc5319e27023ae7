"""The common dossier event: what every connector turns its source's messages into.

One flat record for all four sources keeps the Avro schema simple and lets the rules read every
event the same way; `kind` says which fields are meaningful.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator


class Source(StrEnum):
    ONESTOP = "onestop"
    LAND = "land"
    TAX = "tax"
    CIVIL = "civil"


# a member's value by lookup: Enum's `.value` descriptor costs more, and identities are read
# several times for every event judged
_SOURCE_VALUE: dict[Source, str] = {s: s.value for s in Source}


class EventKind(StrEnum):
    # one-stop system (sources.md §1)
    SNAPSHOT = "SNAPSHOT"  # DongBoHoSoMC item
    STEP = "STEP"  # CapNhatTienDoHoSoMC item: a hand-over with a status
    APOLOGY = "APOLOGY"  # GuiPhieuXinLoi item
    # land registration system (§2)
    LAND_HANDOVER = "LAND_HANDOVER"  # DongBoTrangThaiLuanChuyenHoSo
    LAND_SUPPLEMENT_REQUESTED = "LAND_SUPPLEMENT_REQUESTED"  # DongBoTrangThaiChoBoSung
    LAND_SUPPLEMENT_RECEIVED = "LAND_SUPPLEMENT_RECEIVED"  # DongBoTrangThaiDaBoSung
    LAND_TAX_RESULT = "LAND_TAX_RESULT"  # DongBoKetQuaThue (informational)
    LAND_CLOSED = "LAND_CLOSED"  # DongBoTrangThaiKetThuc
    LAND_INFO = "LAND_INFO"  # informational callbacks, counted and otherwise ignored
    # tax system (§3)
    TAX_OBLIGATION_RECEIVED = "TAX_OBLIGATION_RECEIVED"
    TAX_NOTICE_ISSUED = "TAX_NOTICE_ISSUED"
    TAX_PAID = "TAX_PAID"
    TAX_NOTICE_CANCELLED = "TAX_NOTICE_CANCELLED"
    # civil-status system (§4)
    CIVIL = "CIVIL"


class CivilStatus(StrEnum):
    TIEP_NHAN = "TIEP_NHAN"
    DANG_XU_LY = "DANG_XU_LY"
    CHO_XAC_MINH = "CHO_XAC_MINH"
    DA_CO_KET_QUA = "DA_CO_KET_QUA"
    TU_CHOI = "TU_CHOI"


class DossierEvent(BaseModel):
    """One item of one inbound message, normalised.

    Times are timezone-aware. `event_id` is the event's identity for redelivery: the source's own
    id where it has one (tax `eventId`, civil `MaSuKien`), else a digest of every field the rules
    read, so two deliveries of one item share it and provenance never enters it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    source: Source
    kind: EventKind
    dossier_code: str  # one-stop code, or `<source>:<sector id>` when the event carries no code
    onestop_code: str | None = None  # the one-stop code the event itself carries
    sector_id: str | None = None  # `land:<MaHoSoVBDLIS>` / `civil:<SoHoSo>`
    event_time: datetime | None = None  # rules.md §6: latest rule time of the item

    # one-stop snapshot and step
    status: int | None = None  # national status code 1-10
    first_sync: bool = False  # snapshot with isUpdating false
    received_at: datetime | None = None  # NgayTiepNhan, a one-stop receipt (status != 1)
    appointment_at: datetime | None = None  # NgayHenTra
    refused_at: datetime | None = None  # NgayTuChoi
    finished_at: datetime | None = None  # NgayKetThucXuLy
    returned_at: datetime | None = None  # NgayTra

    # hand-overs (one-stop step, land hand-over, civil event)
    holder_unit: str | None = None
    holder_officer: str | None = None
    step_deadline: datetime | None = None

    # pauses and closings
    pause: bool = False  # land supplement request with LaTamDung true
    with_result: bool | None = None  # land/civil closing: True with a result
    civil_status: CivilStatus | None = None
    notice_no: str | None = None
    apology_at: datetime | None = None  # NgayXinLoi

    # descriptive
    procedure_code: str | None = None
    procedure_name: str | None = None
    unit_name: str | None = None  # DonViXuLy
    channel: str | None = None  # KenhThucHien
    note: str | None = None  # NoiDungXuLy, LyDo, callback name, ...
    new_due_at: datetime | None = None  # NgayHenTraMoi (informational)

    # provenance (never part of identity)
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    item_index: int | None = None

    @property
    def identity(self) -> tuple[str, str]:
        """Source and id: what makes two deliveries one event. Ids are each system's own, and
        two systems may use the same one (a tax event and a civil event, say)."""
        return (_SOURCE_VALUE[self.source], self.event_id)

    @field_validator(
        "event_time",
        "received_at",
        "appointment_at",
        "refused_at",
        "finished_at",
        "returned_at",
        "step_deadline",
        "apology_at",
        "new_due_at",
    )
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("times must be timezone-aware")
        return v
