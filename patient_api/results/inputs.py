"""What ingest (FHIR or HL7 v2) hands to storage: plain values, already validated and mapped."""
from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(slots=True)  # slots: a 20 MB bundle holds tens of thousands of these at once
class ObservationIn:
    """One result value."""

    source_id: str
    code: str
    name: str
    code_system: str | None = None
    value: str | None = None
    value_num: float | None = None
    unit: str | None = None
    ref_low: float | None = None
    ref_high: float | None = None
    reference_range: str | None = None
    flag: str | None = None  # from the sender's interpretation; computed from the range when None
    status: str = "final"
    observed_at: datetime | None = None
    sensitive: bool = False  # the sender's own flag (FHIR meta.security; a report's items follow the report)


@dataclass(slots=True)
class ReportIn:
    """A lab or imaging report, or an outpatient/inpatient document."""

    source_id: str
    source_format: str
    kind: str
    title: str
    status: str
    issued_at: datetime
    code: str | None = None
    category: str | None = None
    department: str | None = None
    performer: str | None = None
    encounter_source_id: str | None = None
    effective_at: datetime | None = None
    findings: str | None = None
    impression: str | None = None
    body: str | None = None
    sensitive: bool = False
    recognised: bool | None = None  # the sender's own 互认 mark, when it sends one
    items: list[ObservationIn] = field(default_factory=list)


@dataclass
class EncounterIn:
    """A visit or stay."""

    source_id: str
    encounter_class: str
    status: str
    department: str | None = None
    reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass
class EntryIn:
    """A condition, allergy or immunization."""

    kind: str
    source_id: str
    display: str
    code: str | None = None
    code_system: str | None = None
    status: str | None = None
    recorded_on: date | None = None
    detail: dict = field(default_factory=dict)
