"""Directory response bodies and query arguments."""
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from ..common.paging import PageOut, PageQuery
from ..common.schemas import Day, Instant, LocalDateTime, StrictSchema, Text
from . import pools

ID = validate.Length(1, 40)
PATIENT_ID = validate.Length(1, 40, error="就诊人编号长度应为1-40个字符")
FOR_PATIENT = {
    "available_to_patient": ("free tickets this patient may book now through WeChat: the public ones and those "
                             "kept for a pool the patient's booking may take (老年人就医便捷通道 by a verified "
                             "family proxy); only with `patient_id`"),
    "kept_for_patient": "{pool: kept tickets counted in available_to_patient}; only with `patient_id`",
}


class HospitalOut(Schema):
    """A hospital."""

    id = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    level = fields.String(required=True)
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    release_days_ahead = fields.Integer()
    release_time = fields.Time(format="%H:%M")
    cancel_deadline_time = fields.Time(format="%H:%M", metadata={
        "description": "取消预约 is possible until this time on the day before the visit"})


class DepartmentOut(Schema):
    """A department."""

    id = fields.String(required=True)
    hospital_id = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    category = fields.String(allow_none=True)
    description = fields.String(allow_none=True)


class DoctorBrief(Schema):
    """The doctor of a schedule."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    title = fields.String(required=True)


class DoctorOut(DoctorBrief):
    """A doctor."""

    department_id = fields.String(required=True)
    specialty = fields.String(allow_none=True)


class ScheduleOut(Schema):
    """A clinic session with its live availability."""

    id = fields.String(required=True)
    hospital_id = fields.String(required=True)
    department_id = fields.String(required=True)
    doctor = fields.Nested(DoctorBrief, required=True)
    date = Day(required=True)
    period = fields.String(required=True, validate=validate.OneOf(("morning", "afternoon", "evening")))
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    fee_kind = fields.String(required=True)
    fee_fen = fields.Integer(required=True)
    capacity = fields.Integer(required=True)
    available = fields.Integer(required=True, attribute="public_available", metadata={
        "description": "free tickets the public may book now (tickets kept back for a pool are not counted)"})
    reserved = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, metadata={
        "description": "号源预留: free tickets still kept back per pool (referral, elder …) until their release"})
    release_at = LocalDateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("open", "not_released", "closed", "stopped")))
    available_to_patient = fields.Integer(metadata={"description": FOR_PATIENT["available_to_patient"]})
    kept_for_patient = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                   metadata={"description": FOR_PATIENT["kept_for_patient"]})


SLOT_STATUSES = ("open", "full", "past")


class SlotOut(Schema):
    """One time window of a schedule; book it with `slot_start` = `start`."""

    start = LocalDateTime(required=True)
    end = LocalDateTime(required=True)
    capacity = fields.Integer(required=True)
    available = fields.Integer(required=True, metadata={"description": "free tickets the public may book now"})
    reserved = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True, metadata={
        "description": "号源预留: free tickets of this window still kept back per pool"})
    status = fields.String(required=True, validate=validate.OneOf(SLOT_STATUSES), metadata={
        "description": "open: has free tickets; full: none free now (a lapsed hold may come back); past: window over"})
    available_to_patient = fields.Integer(metadata={"description": FOR_PATIENT["available_to_patient"]})
    kept_for_patient = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                   metadata={"description": FOR_PATIENT["kept_for_patient"]})


class ScheduleQuery(PageQuery):
    """Filters and paging for the schedule list (100 a page by default, at most 500)."""

    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    hospital_id = Text(validate=ID)
    department_id = Text(validate=ID)
    doctor_id = Text(validate=ID)
    date = Day()
    patient_id = Text(validate=PATIENT_ID, metadata={
        "description": "a 就诊人 of the signed-in resident: adds available_to_patient and kept_for_patient"})


class PatientViewQuery(Schema):
    """Optional 就诊人 whose bookable tickets to count (other query parameters are ignored, as before)."""

    class Meta:
        unknown = EXCLUDE

    patient_id = Text(validate=PATIENT_ID, metadata={
        "description": "a 就诊人 of the signed-in resident: adds available_to_patient and kept_for_patient"})


def listing(item_schema):
    """A {"items": [...]} envelope schema for that item schema."""
    return type(f"{item_schema.__name__}List", (Schema,), {
        "items": fields.List(fields.Nested(item_schema), required=True)})


HospitalList = listing(HospitalOut)
DepartmentList = listing(DepartmentOut)
DoctorList = listing(DoctorOut)
SlotList = listing(SlotOut)


class ScheduleList(PageOut):
    """A page of schedules; `next_cursor` is null on the last one."""

    items = fields.List(fields.Nested(ScheduleOut), required=True)


def _known_pool(name):
    if name not in pools.POOLS:
        raise ValidationError(f"未知的预留类型，应为以下之一：{'、'.join(pools.POOLS)}")


def _shares_fit(rules):
    if sum(rule["share"] for rule in rules.values()) > 1 + 1e-9:
        raise ValidationError("各类预留比例之和不能超过 1")


class PoolRuleIn(StrictSchema):
    """One pool's share of a schedule's tickets and when the unused ones go to the public."""

    share = fields.Float(required=True, validate=validate.Range(0, 1), metadata={
        "description": "share of the capacity kept back (rounded down), e.g. 0.2"})
    release_hours_before = fields.Integer(strict=True, validate=validate.Range(0, pools.MAX_RELEASE_HOURS), metadata={
        "description": "unused tickets go public this many hours before the session starts"})
    release_at = Instant(metadata={"description": "or at this instant (ISO 8601 with offset)"})

    @validates_schema
    def one_release(self, data, **_):
        """A release time, given one way only."""
        if ("release_hours_before" in data) == ("release_at" in data):
            raise ValidationError("release_hours_before 与 release_at 须提供且只能提供一个", field_name="release_at")


def reservations_field(**kwargs):
    """{pool: rule}: which share of the tickets each pool keeps ({} keeps none)."""
    kwargs.setdefault("metadata", {"description": "号源预留 by pool (referral, elder …): share and release time; "
                                                  "{} keeps nothing back"})
    return fields.Dict(keys=Text(validate=_known_pool), values=fields.Nested(PoolRuleIn), validate=_shares_fit,
                       **kwargs)
