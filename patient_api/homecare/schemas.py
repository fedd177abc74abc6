"""Bodies of the 互联网+护理 endpoints: the catalogue, requests, the dispatcher's and the nurse's steps, alerts."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..common.paging import PageOut, PageQuery
from ..common.phone import mobile
from ..common.schemas import Instant, LocalDateTime, StrictSchema, Text
from ..results.schemas import ReportDetail
from .eligibility import RULE_KINDS, describe
from .models import ALERT_KINDS, MOBILITY, SHARED_KINDS, STATUSES

ID = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="编号格式不正确")
CODE = validate.Regexp(r"^[A-Za-z0-9_-]{1,16}$", error="编码只能包含字母、数字、下划线和连字符（最多16位）")
AREA = validate.Regexp(r"^[1-9][0-9]{5}$", error="应为6位行政区划代码")
FEN = validate.Range(0, 10_000_000)  # up to 10 万元


class StrictBool(fields.Boolean):
    """A JSON true or false (not 0, 1 or "yes")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _unique(items, key, field):
    codes = [item[key] for item in items]
    if len(codes) != len(set(codes)):
        raise ValidationError("编码不能重复", field_name=field)


class RuleIn(StrictSchema):
    """One eligibility rule: `bed_bound`; `discharged_within_days` and `age_at_most_days` with `days`;
    `age_at_least_years` with `years`."""

    kind = Text(required=True, validate=validate.OneOf(list(RULE_KINDS)))
    days = fields.Integer(strict=True, validate=validate.Range(1, 3650))
    years = fields.Integer(strict=True, validate=validate.Range(1, 150))

    @validates_schema
    def parameter(self, data, **_):
        """Each kind takes exactly its own parameter."""
        wanted = RULE_KINDS.get(data.get("kind"), "?")
        for name in ("days", "years"):
            if name == wanted and name not in data:
                raise ValidationError("必填", field_name=name)
            if name != wanted and name in data:
                raise ValidationError("该规则不需要此参数", field_name=name)


class EligibilityIn(StrictSchema):
    """Who may be served: any (or all) of the rules; no rules: everyone."""

    match = Text(load_default="any", validate=validate.OneOf(("any", "all")))
    rules = fields.List(fields.Nested(RuleIn), load_default=list, validate=validate.Length(0, 10))


class BandIn(StrictSchema):
    """A distance band and its travel fee."""

    code = Text(required=True, validate=CODE)
    name = Text(required=True, validate=validate.Length(1, 30))
    fee_fen = fields.Integer(required=True, strict=True, validate=FEN)


class ConsumableIn(StrictSchema):
    """A consumable the nurse may use and bill."""

    code = Text(required=True, validate=CODE)
    name = Text(required=True, validate=validate.Length(1, 60))
    unit = Text(required=True, validate=validate.Length(1, 10))
    unit_price_fen = fields.Integer(required=True, strict=True, validate=FEN)


class ServiceIn(StrictSchema):
    """A catalogue service as an admin writes it (PUT replaces the whole definition)."""

    code = Text(required=True, validate=CODE)
    name = Text(required=True, validate=validate.Length(1, 60))
    description = Text(required=True, validate=validate.Length(1, 1000),
                       metadata={"description": "what the visit includes (服务内容)"})
    service_fee_fen = fields.Integer(required=True, strict=True, validate=FEN)
    duration_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(10, 480))
    eligibility = fields.Nested(EligibilityIn, load_default=lambda: {"match": "any", "rules": []})
    travel_bands = fields.List(fields.Nested(BandIn), required=True, validate=validate.Length(1, 10),
                               metadata={"description": "travel fee by distance band (at least one)"})
    consumables = fields.List(fields.Nested(ConsumableIn), load_default=list, validate=validate.Length(0, 50))
    areas = fields.List(Text(validate=AREA), required=True, validate=validate.Length(1, 200), metadata={
        "description": "district/county codes served; a code ending in 00 covers the whole city"})
    active = StrictBool(load_default=True, metadata={"description": "false withdraws it from the catalogue"})

    @validates_schema
    def unique_codes(self, data, **_):
        """Band, consumable and area codes are each listed once."""
        _unique(data.get("travel_bands", []), "code", "travel_bands")
        _unique(data.get("consumables", []), "code", "consumables")
        if len(set(data.get("areas", []))) != len(data.get("areas", [])):
            raise ValidationError("区划代码不能重复", field_name="areas")


class RuleOut(Schema):
    """An eligibility rule."""

    kind = fields.String(required=True)
    days = fields.Integer()
    years = fields.Integer()


class EligibilityOut(Schema):
    """Who may be served, with the rules as a resident reads them."""

    match = fields.String(required=True, validate=validate.OneOf(("any", "all")))
    rules = fields.List(fields.Nested(RuleOut), required=True)
    text = fields.Function(lambda eligibility: [describe(rule) for rule in eligibility.get("rules", [])],
                           required=True, metadata={"type": "array", "items": {"type": "string"},
                                                    "description": "the rules in Chinese, e.g. 年满60周岁的老人"})


class BandOut(Schema):
    """A distance band."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    fee_fen = fields.Integer(required=True)


class ConsumableOut(Schema):
    """A priced consumable."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    unit = fields.String(required=True)
    unit_price_fen = fields.Integer(required=True)


class ServiceOut(Schema):
    """A catalogue service."""

    id = fields.String(required=True)
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(attribute="hospital.name", required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    service_fee_fen = fields.Integer(required=True)
    duration_minutes = fields.Integer(required=True)
    eligibility = fields.Nested(EligibilityOut, required=True)
    travel_bands = fields.List(fields.Nested(BandOut), required=True)
    consumables = fields.List(fields.Nested(ConsumableOut), required=True)
    areas = fields.List(fields.String(), attribute="area_codes", required=True)
    active = fields.Boolean(required=True)


class ServiceList(Schema):
    """Catalogue services."""

    items = fields.List(fields.Nested(ServiceOut), required=True)


class CatalogueQuery(StrictSchema):
    """Services of one hospital, covering one district or county."""

    hospital_id = Text(validate=ID)
    area_code = Text(validate=AREA)


class SharedRecordIn(StrictSchema):
    """A stay or report of the patient's own, shown to the nurse through this order only, with consent."""

    kind = Text(required=True, validate=validate.OneOf(SHARED_KINDS))
    id = Text(required=True, validate=ID)
    consent = StrictBool(required=True, metadata={"description": "must be true: the nurse may read it"})


class Phone(Text):
    """A mainland mobile number."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        number = mobile(text) if len(text) <= 20 else None
        if number is None:
            raise ValidationError("不是有效的手机号码")
        return number


class OrderIn(StrictSchema):
    """A request for a home visit (互联网+护理)."""

    service_id = Text(required=True, validate=ID)
    patient_id = Text(required=True, validate=ID)
    address = Text(required=True, validate=validate.Length(5, 200),
                   metadata={"description": "stored encrypted; answered masked except to the assigned nurse"})
    area_code = Text(required=True, validate=AREA, metadata={"description": "the address's district/county code"})
    window_start = Instant(required=True, metadata={"description": "preferred window, within 30 days"})
    window_end = Instant(required=True, metadata={"description": "30 minutes to 12 hours after window_start"})
    condition = Text(required=True, validate=validate.Length(2, 500), metadata={"description": "病情描述"})
    mobility = Text(load_default=None, allow_none=True, validate=validate.OneOf(MOBILITY))
    contact_phone = Phone(required=True, metadata={"description": "mobile; stored encrypted, answered masked"})
    distance_band = Text(load_default=None, allow_none=True, validate=CODE,
                         metadata={"description": "a travel band of the service; else the dispatcher chooses"})
    shared_record = fields.Nested(SharedRecordIn, load_default=None, allow_none=True)


class OrderQuery(PageQuery):
    """Orders newest first, by status."""

    status = Text(validate=validate.OneOf(STATUSES))


class UsedConsumableOut(Schema):
    """A consumable used, priced when recorded."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    unit = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price_fen = fields.Integer(required=True)


class SharedRecordOut(Schema):
    """What the requester shared (the content is the nurse's, through the order)."""

    kind = fields.String(required=True)
    consent = fields.Boolean(required=True)


class RatingOut(Schema):
    """The requester's rating."""

    score = fields.Integer(required=True)
    comment = fields.String(allow_none=True)
    rated_at = LocalDateTime(required=True)


class ComplaintOut(Schema):
    """The requester's complaint."""

    text = fields.String(required=True)
    at = LocalDateTime(required=True)


class LocationOut(Schema):
    """Where the nurse checked in."""

    lat = fields.Float(required=True)
    lng = fields.Float(required=True)


class OrderRefundOut(Schema):
    """A refund of the order's paid bill."""

    id = fields.String(required=True)
    amount_fen = fields.Integer(required=True)
    reason = fields.String(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(("processing", "succeeded", "failed")))
    created_at = LocalDateTime(required=True)
    succeeded_at = LocalDateTime(allow_none=True, required=True)


class OrderOut(Schema):
    """A home-care order; `address` is masked unless `address_visible` (the assigned nurse in her window)."""

    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(required=True)
    service_id = fields.String(required=True)
    service_name = fields.String(required=True)
    service_code = fields.String(required=True)
    patient_id = fields.String(required=True)
    patient_name = fields.String(required=True, metadata={"description": "masked"})
    address = fields.String(required=True)
    address_visible = fields.Boolean(required=True)
    area_code = fields.String(required=True)
    contact_phone = fields.String(required=True, metadata={"description": "masked"})
    window_start = LocalDateTime(required=True)
    window_end = LocalDateTime(required=True)
    condition = fields.String(required=True)
    mobility = fields.String(allow_none=True, required=True)
    distance_band = fields.String(allow_none=True, required=True)
    service_fee_fen = fields.Integer(required=True)
    travel_fee_fen = fields.Integer(allow_none=True, required=True)
    consumables_fen = fields.Integer(required=True)
    total_fen = fields.Integer(required=True, metadata={"description": "service + travel + consumables so far"})
    consumables = fields.List(fields.Nested(UsedConsumableOut), required=True)
    visit_notes = fields.String(allow_none=True, required=True)
    shared_record = fields.Nested(SharedRecordOut, allow_none=True, required=True)
    created_at = LocalDateTime(required=True)
    review_due_at = LocalDateTime(required=True, metadata={"description": "unreviewed by then, the request lapses"})
    reviewed_at = LocalDateTime(allow_none=True, required=True)
    decline_reason = fields.String(allow_none=True, required=True)
    nurse_assigned = fields.Boolean(required=True)
    nurse_id = fields.String(allow_none=True, required=True, metadata={"description": "staff answers only"})
    nurse_accepted_at = LocalDateTime(allow_none=True, required=True)
    departed_at = LocalDateTime(allow_none=True, required=True)
    checked_in_at = LocalDateTime(allow_none=True, required=True)
    checked_out_at = LocalDateTime(allow_none=True, required=True)
    check_in_location = fields.Nested(LocationOut, allow_none=True, required=True)
    free_cancel_until = LocalDateTime(required=True, metadata={"description": "cancelling later costs a fee"})
    cancel_fee_now_fen = fields.Integer(allow_none=True, required=True, metadata={
        "description": "what cancelling now would cost (0: free); null once it can no longer be cancelled"})
    cancelled_at = LocalDateTime(allow_none=True, required=True)
    cancel_fee_fen = fields.Integer(allow_none=True, required=True)
    lapsed_at = LocalDateTime(allow_none=True, required=True)
    bill_id = fields.String(allow_none=True, required=True,
                            metadata={"description": "the visit's bill (or a late cancellation's fee): pay it with "
                                                     "POST /bills/{id}/payments"})
    paid_at = LocalDateTime(allow_none=True, required=True)
    refunds = fields.List(fields.Nested(OrderRefundOut), required=True, metadata={
        "description": "money the hospital gave back of the paid bill, with its reason"})
    rating = fields.Nested(RatingOut, allow_none=True, required=True)
    complaint = fields.Nested(ComplaintOut, allow_none=True, required=True)


class OrderList(PageOut):
    """Orders, newest first."""

    items = fields.List(fields.Nested(OrderOut), required=True)


class RatingIn(StrictSchema):
    """1 (poor) to 5 (excellent), with optional words."""

    score = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    comment = Text(load_default=None, allow_none=True, validate=validate.Length(1, 500))


class ComplaintIn(StrictSchema):
    """What went wrong."""

    text = Text(required=True, validate=validate.Length(5, 1000))


class AssignIn(StrictSchema):
    """Accept the request with a nurse qualified for the service, and the distance band if the resident chose none."""

    nurse_id = Text(required=True, validate=ID)
    distance_band = Text(load_default=None, allow_none=True, validate=CODE)


class ReassignIn(StrictSchema):
    """改派: another nurse qualified for the service, and why (recorded; the old nurse reads it)."""

    nurse_id = Text(required=True, validate=ID)
    reason = Text(required=True, validate=validate.Length(2, 200))


class RefundIn(StrictSchema):
    """Money back of the order's paid bill, with the reason the family reads."""

    amount_fen = fields.Integer(required=True, strict=True, validate=validate.Range(1, 10_000_000),
                                metadata={"description": "at most what is left of the self-paid amount"})
    reason = Text(required=True, validate=validate.Length(2, 80), metadata={"description": "e.g. 投诉核实，退还交通费"})


class DeclineIn(StrictSchema):
    """Why the request is declined (the family reads it)."""

    reason = Text(required=True, validate=validate.Length(2, 200))


class CheckInIn(StrictSchema):
    """Where the nurse is, if her phone gives it (both or neither)."""

    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lng = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))

    @validates_schema
    def both(self, data, **_):
        """A latitude without a longitude is no place."""
        if (data.get("lat") is None) != (data.get("lng") is None):
            raise ValidationError("经纬度须同时提供", field_name="lng" if data.get("lng") is None else "lat")


class UsedIn(StrictSchema):
    """A consumable of the service's catalogue and how many were used."""

    code = Text(required=True, validate=CODE)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(1, 99))


class RecordIn(StrictSchema):
    """What was done (服务记录) and the consumables used."""

    notes = Text(required=True, validate=validate.Length(2, 2000))
    consumables = fields.List(fields.Nested(UsedIn), load_default=list, validate=validate.Length(0, 20))

    @validates_schema
    def once_each(self, data, **_):
        """A consumable is listed once, with its quantity (checked once every line is well-formed)."""
        lines = data.get("consumables", [])
        if len({line["code"] for line in lines}) != len(lines):
            raise ValidationError("同一耗材只能列一次", field_name="consumables")


class NurseOut(Schema):
    """A nurse of the hospital and the services she may do."""

    id = fields.String(required=True)
    username = fields.String(required=True)
    service_ids = fields.List(fields.String(), required=True)


class NurseList(Schema):
    """Nurses."""

    items = fields.List(fields.Nested(NurseOut), required=True)


class NurseQuery(StrictSchema):
    """Only nurses qualified for this service."""

    service_id = Text(validate=ID)


class QualificationsIn(StrictSchema):
    """Every service the nurse may do (replaces the list)."""

    service_ids = fields.List(Text(validate=ID), required=True, validate=validate.Length(0, 100))


class AdmissionShared(Schema):
    """A shared stay, as the nurse reads it."""

    id = fields.String(required=True)
    hospital_name = fields.String(required=True)
    department = fields.String(allow_none=True, required=True)
    ward = fields.String(required=True)
    admitted_at = LocalDateTime(required=True)
    discharge_at = LocalDateTime(allow_none=True, required=True)
    status = fields.String(required=True)


class SharedRecordDetail(Schema):
    """The record the requester shared with the nurse."""

    kind = fields.String(required=True, validate=validate.OneOf(SHARED_KINDS))
    admission = fields.Nested(AdmissionShared, allow_none=True, required=True)
    report = fields.Nested(ReportDetail, allow_none=True, required=True)


class AlertOut(Schema):
    """Something the dispatchers must look at."""

    id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ALERT_KINDS), metadata={
        "description": "review_lapsed (nobody reviewed a request in time), visit_overdue (no check-out), complaint"})
    order_id = fields.String(required=True)
    created_at = LocalDateTime(required=True)
    acknowledged_at = LocalDateTime(allow_none=True, required=True)
    acknowledged_by = fields.String(allow_none=True, required=True)


class AlertList(PageOut):
    """Alerts, newest first."""

    items = fields.List(fields.Nested(AlertOut), required=True)


class AlertQuery(PageQuery):
    """Only the unacknowledged ones, when `open` is true."""

    open = fields.Boolean(load_default=False)
