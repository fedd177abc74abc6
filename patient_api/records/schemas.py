"""Bodies of the health-record endpoints: record summary, timeline, entries, vitals, access log, contracts."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..accounts.schemas import IdNumber
from ..common.paging import PageOut, PageQuery
from ..common.schemas import Day, Instant, LocalDateTime, StrictSchema, Text
from .models import VITAL_KINDS
from .vitals import GLUCOSE_CONTEXTS, UNITS

UNIT_CHOICES = sorted({unit for _, accepted, _, _ in UNITS.values() for unit in accepted})


class Number(fields.Float):
    """A JSON number only: "120" as text is refused rather than guessed at."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("应为数字")
        return super()._deserialize(value, attr, data, **kwargs)


class VitalIn(StrictSchema):
    """A measurement: systolic/diastolic for blood pressure, value (+ unit) for the others."""

    kind = Text(required=True, validate=validate.OneOf(VITAL_KINDS))
    systolic = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, 1000))
    diastolic = fields.Integer(strict=True, allow_none=True, validate=validate.Range(0, 1000))
    value = Number(allow_none=True, validate=validate.Range(0, 100_000))
    unit = Text(allow_none=True, validate=validate.OneOf(UNIT_CHOICES))
    context = Text(allow_none=True, validate=validate.OneOf(GLUCOSE_CONTEXTS))
    measured_at = Instant(allow_none=True)


class VitalQuery(PageQuery):
    """Filter by kind."""

    kind = Text(validate=validate.OneOf(VITAL_KINDS))


class VitalOut(Schema):
    """An uploaded measurement, in stored units (mmHg, mmol/L, bpm, kg, °C)."""

    id = fields.String(required=True)
    patient_id = fields.String(required=True)
    kind = fields.String(required=True)
    systolic = fields.Integer(allow_none=True)
    diastolic = fields.Integer(allow_none=True)
    value = fields.Float(allow_none=True)
    unit = fields.String(required=True)
    context = fields.String(allow_none=True)
    measured_at = LocalDateTime(required=True)
    created_at = LocalDateTime(required=True)


class VitalList(PageOut):
    """Uploaded measurements, newest first."""

    items = fields.List(fields.Nested(VitalOut), required=True)


class LatestVital(Schema):
    """The newest value of a kind (uploaded by the family) or of a code (measured at a hospital)."""

    source = fields.String(required=True, validate=validate.OneOf(("resident", "hospital")))
    kind = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    name = fields.String(required=True)
    systolic = fields.Integer(allow_none=True)
    diastolic = fields.Integer(allow_none=True)
    value = fields.Float(allow_none=True)
    text = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    context = fields.String(allow_none=True)
    flag = fields.String(allow_none=True)
    measured_at = LocalDateTime(required=True)
    hospital_id = fields.String(allow_none=True)


class EncounterOut(Schema):
    """A visit or stay."""

    id = fields.String(required=True)
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(allow_none=True)
    encounter_class = fields.String(required=True)
    status = fields.String(required=True)
    department = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    started_at = LocalDateTime(allow_none=True)
    ended_at = LocalDateTime(allow_none=True)


class EncounterList(PageOut):
    """The timeline, newest first."""

    items = fields.List(fields.Nested(EncounterOut), required=True)


class EntryOut(Schema):
    """A condition, allergy or immunization."""

    id = fields.String(required=True)
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(allow_none=True)
    kind = fields.String(required=True)
    code = fields.String(allow_none=True)
    code_system = fields.String(allow_none=True)
    display = fields.String(required=True)
    status = fields.String(allow_none=True)
    recorded_on = Day(allow_none=True)
    detail = fields.Dict(required=True)


class EntryList(Schema):
    """Entries of one kind, most recent first."""

    items = fields.List(fields.Nested(EntryOut), required=True)


class ContractOut(Schema):
    """A family-doctor contract (家庭医生签约)."""

    id = fields.String(required=True)
    contract_no = fields.String(required=True)
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(allow_none=True)
    team = fields.String(required=True)
    doctor = fields.String(required=True)
    phone = fields.String(allow_none=True)  # the team's service number, not personal data
    package = fields.String(allow_none=True)
    starts_on = Day(required=True)
    ends_on = Day(required=True)
    status = fields.String(required=True)


class PatientBrief(Schema):
    """Whose record it is, masked."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    gender = fields.String(required=True)
    birth_date = Day(required=True)


class RecordOut(Schema):
    """The health-record summary."""

    patient = fields.Nested(PatientBrief, required=True)
    encounters = fields.List(fields.Nested(EncounterOut), required=True)
    conditions = fields.List(fields.Nested(EntryOut), required=True)
    allergies = fields.List(fields.Nested(EntryOut), required=True)
    immunizations = fields.List(fields.Nested(EntryOut), required=True)
    vitals = fields.List(fields.Nested(LatestVital), required=True)
    family_doctor = fields.Nested(ContractOut, allow_none=True, required=True)


class AccessLogOut(Schema):
    """One read of the patient's data."""

    at = LocalDateTime(required=True)
    actor_type = fields.String(required=True)
    actor = fields.String(required=True)
    is_me = fields.Boolean(required=True)
    channel = fields.String(required=True)
    resource_type = fields.String(required=True)
    resource_id = fields.String(required=True)
    purpose = fields.String(allow_none=True, metadata={"description": "why, when the read had a stated purpose (转诊)"})
    description = fields.String(allow_none=True, metadata={
        "description": "the read in words for such reads, e.g. 泰安市中心医院 因转诊查看了您的报告"})


class AccessLogList(PageOut):
    """Reads, newest first."""

    items = fields.List(fields.Nested(AccessLogOut), required=True)


class ContractPatient(StrictSchema):
    """Whose contract: the resident ID number."""

    id_number = IdNumber(required=True)


class ContractIn(StrictSchema):
    """A contract as the community health centre's system pushes it; re-sent with changes it is updated."""

    contract_no = Text(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.:-]{1,64}$"))
    patient = fields.Nested(ContractPatient, required=True)
    team = Text(required=True, validate=validate.Length(1, 100))
    doctor = Text(required=True, validate=validate.Length(1, 50))
    phone = Text(load_default=None, allow_none=True, validate=validate.Length(1, 40))
    package = Text(load_default=None, allow_none=True, validate=validate.Length(1, 100))
    starts_on = Day(required=True)
    ends_on = Day(required=True)
    status = Text(load_default="active", validate=validate.OneOf(("active", "ended", "cancelled")), metadata={
        "description": "an active contract whose ends_on is past is stored (and answered) as expired"})
    team_code = Text(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,16}$", error="团队编码格式不正确"), metadata={
        "description": "the clinic's team code (GET /family/teams): links the contract to the team signing online "
                       "uses; without it the team is matched by its exact name"})
    package_code = Text(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,16}$", error="服务包编码格式不正确"),
                        metadata={"description": "the clinic's package code"})

    @validates_schema
    def period(self, data, **_):
        """A contract ends after it starts."""
        if "starts_on" in data and "ends_on" in data and data["ends_on"] < data["starts_on"]:
            raise ValidationError("ends_on 不能早于 starts_on", field_name="ends_on")
