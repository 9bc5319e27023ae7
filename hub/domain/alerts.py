"""Alert transitions as the hub emits them (alerts.md, rules.md §5)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class AlertType(StrEnum):
    DUE_SOON = "DUE_SOON"
    PROCESSING_LATE = "PROCESSING_LATE"
    APOLOGY_MISSING = "APOLOGY_MISSING"
    UNREPORTED_COMPLETION = "UNREPORTED_COMPLETION"
    NOT_RECEIVED_VIA_ONESTOP = "NOT_RECEIVED_VIA_ONESTOP"
    STEP_OVERDUE = "STEP_OVERDUE"


class AlertState(StrEnum):
    RAISED = "RAISED"
    RESOLVED = "RESOLVED"


class Alert(BaseModel):
    """One alert transition; field names and order are those of schemas/alert.avsc."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    type: AlertType
    state: AlertState
    dossier_code: str
    procedure_code: str | None = None
    unit_code: str | None = None
    responsible_unit: str | None = None
    responsible_officer: str | None = None
    due_original: datetime | None = None
    due_current: datetime | None = None
    condition_at: datetime
    emitted_at: datetime
    message: str
    details: dict[str, str] = Field(default_factory=dict)
