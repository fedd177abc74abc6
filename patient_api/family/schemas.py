"""Bodies of the 家庭医生签约 endpoints: teams and packages, applying, the contract, the team's queue and roster."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..common.paging import PageOut, PageQuery
from ..common.schemas import Day, LocalDateTime, StrictSchema, Text
from ..records.models import CONTRACT_STATUSES, VITAL_KINDS
from .eligibility import CONDITIONS

ID = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="编号格式不正确")
REGION = validate.Regexp(r"^[1-9][0-9]{5}$", error="应为6位区县行政区划代码")
COMMUNITY = validate.Length(1, 40, error="村（社区）名称应为1-40个字")
QUEUE_STATUSES = ("applied", "declined", "withdrawn")


class FamilyTeamQuery(StrictSchema):
    """An address: the district/county code and, to narrow it, the 村/社区."""

    region_code = Text(required=True, validate=REGION)
    community = Text(validate=COMMUNITY)


class FamilyMemberOut(Schema):
    """A team member (names of doctors are public, as on the clinic's wall)."""

    name = fields.String(required=True)
    member_role = fields.String(required=True, validate=validate.OneOf(("doctor", "nurse", "public_health")))
    role_name = fields.String(required=True)
    title = fields.String(allow_none=True)
    is_lead = fields.Boolean(required=True)


class FamilyAreaOut(Schema):
    """A covered 村/社区."""

    region_code = fields.String(required=True)
    community = fields.String(required=True)


class FamilyPackageItem(Schema):
    """What a package includes (服务内容) and how often."""

    name = fields.String(required=True)
    frequency = fields.String(required=True)


class FamilyPackageRule(Schema):
    """A who-may-sign rule."""

    kind = fields.String(required=True)
    years = fields.Integer()
    sex = fields.String()
    conditions = fields.List(fields.String())


class FamilyPackageEligibility(Schema):
    """Who may sign, with the rules in words."""

    match = fields.String(required=True)
    rules = fields.List(fields.Nested(FamilyPackageRule), required=True)
    text = fields.List(fields.String(), required=True)


class FamilyPackageOut(Schema):
    """A service package: 基础包 (free) or a priced 个性化包."""

    id = fields.String(required=True)
    code = fields.String(required=True)
    kind = fields.String(required=True)
    kind_name = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    items = fields.List(fields.Nested(FamilyPackageItem), required=True)
    price_fen = fields.Integer(required=True)
    eligibility = fields.Nested(FamilyPackageEligibility, required=True)


class FamilyTeamOut(Schema):
    """A family-doctor team; `remaining`: how many more residents it may sign."""

    id = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(required=True)
    hospital_address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    introduction = fields.String(allow_none=True)
    capacity = fields.Integer(required=True)
    remaining = fields.Integer(required=True)
    members = fields.List(fields.Nested(FamilyMemberOut), required=True)
    areas = fields.List(fields.Nested(FamilyAreaOut), required=True)
    packages = fields.List(fields.Nested(FamilyPackageOut), metadata={"description": "team detail only"})


class FamilyTeamList(Schema):
    """Teams."""

    items = fields.List(fields.Nested(FamilyTeamOut), required=True)


class FamilyApplyIn(StrictSchema):
    """An application (签约申请) for a patient on a verified link."""

    patient_id = Text(required=True, validate=ID)
    team_id = Text(required=True, validate=ID)
    package_id = Text(required=True, validate=ID)
    region_code = Text(required=True, validate=REGION, metadata={"description": "where the person lives: 区县 code"})
    community = Text(required=True, validate=COMMUNITY, metadata={"description": "… and 村/社区, which the team "
                                                                                 "must cover"})
    conditions = fields.List(Text(validate=validate.OneOf(list(CONDITIONS))), load_default=list,
                             validate=validate.Length(0, len(CONDITIONS)), metadata={
                                 "description": "declared conditions (hypertension, diabetes, pregnancy, disability) "
                                                "for a package that asks for one; the team checks them"})

    @validates_schema
    def distinct(self, data, **_):
        """Each condition once."""
        if len(set(data.get("conditions", []))) != len(data.get("conditions", [])):
            raise ValidationError("不能重复", field_name="conditions")


class FamilyRenewIn(StrictSchema):
    """Renewal; another package of the same clinic may be chosen."""

    package_id = Text(validate=ID)


class FamilyEndIn(StrictSchema):
    """Why the contract ends (解约)."""

    reason = Text(load_default=None, allow_none=True, validate=validate.Length(1, 200))


class FamilyDeclineIn(StrictSchema):
    """Why the team declines (the family reads it)."""

    reason = Text(required=True, validate=validate.Length(2, 200, error="请填写2-200字的原因"))


class FamilyContractQuery(StrictSchema):
    """One patient's contracts (else every verified patient's), of one status."""

    patient_id = Text(validate=ID)
    status = Text(validate=validate.OneOf(CONTRACT_STATUSES))


class FamilyFollowUpOut(Schema):
    """A follow-up plan and where it stands."""

    id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(VITAL_KINDS))
    kind_name = fields.String(required=True)
    interval_days = fields.Integer(required=True)
    note = fields.String(allow_none=True)
    starts_at = LocalDateTime(required=True)
    period_start = LocalDateTime(required=True)
    due_at = LocalDateTime(required=True, metadata={"description": "upload a reading of `kind` before this "
                                                                   "(midnight ending the period)"})
    due_on = Day(required=True, metadata={"description": "the period's last day (due_at less a moment)"})
    done = fields.Boolean(required=True)
    reminded = fields.Boolean(required=True)
    overdue = fields.Boolean(required=True, metadata={"description": "the last period passed without a reading, "
                                                                     "and none has come in this one"})
    overdue_since = LocalDateTime(allow_none=True, required=True)
    last_reading_at = LocalDateTime(allow_none=True, required=True)


class FamilyContractOut(Schema):
    """A contract or application (家庭医生签约), pushed by a centre (`source` push) or signed online."""

    id = fields.String(required=True)
    contract_no = fields.String(required=True)
    source = fields.String(required=True, validate=validate.OneOf(("push", "online")))
    status = fields.String(required=True, validate=validate.OneOf(CONTRACT_STATUSES))
    status_name = fields.String(required=True)
    patient_id = fields.String(allow_none=True, required=True)
    patient_name = fields.String(allow_none=True, required=True)
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(allow_none=True, required=True)
    team_id = fields.String(allow_none=True, required=True)
    team_name = fields.String(required=True)
    doctor = fields.String(required=True)
    phone = fields.String(allow_none=True, required=True)
    package_id = fields.String(allow_none=True, required=True)
    package_name = fields.String(allow_none=True, required=True)
    price_fen = fields.Integer(allow_none=True, required=True)
    starts_on = Day(required=True)
    ends_on = Day(required=True)
    applied_at = LocalDateTime(allow_none=True, required=True)
    decided_at = LocalDateTime(allow_none=True, required=True)
    decline_reason = fields.String(allow_none=True, required=True)
    ended_at = LocalDateTime(allow_none=True, required=True)
    end_reason = fields.String(allow_none=True, required=True)
    region_code = fields.String(allow_none=True, required=True)
    community = fields.String(allow_none=True, required=True)
    conditions = fields.List(fields.String(), required=True)
    renewed_from_id = fields.String(allow_none=True, required=True)
    renewal_opens_on = Day(allow_none=True, required=True)
    renewable = fields.Boolean(required=True)
    follow_ups = fields.List(fields.Nested(FamilyFollowUpOut), required=True)


class FamilyContractList(Schema):
    """Contracts and applications, newest first."""

    items = fields.List(fields.Nested(FamilyContractOut), required=True)


class FamilyReadingOut(Schema):
    """The newest upload of one kind."""

    kind = fields.String(required=True)
    kind_name = fields.String(required=True)
    systolic = fields.Integer(allow_none=True)
    diastolic = fields.Integer(allow_none=True)
    value = fields.Float(allow_none=True)
    unit = fields.String(required=True)
    context = fields.String(allow_none=True)
    measured_at = LocalDateTime(required=True)


class FamilyStaffContractOut(FamilyContractOut):
    """A contract as its team reads it."""

    gender = fields.String(allow_none=True, required=True)
    age = fields.Integer(allow_none=True, required=True)
    conditions_on_record = fields.List(fields.String(), required=True)
    latest_readings = fields.List(fields.Nested(FamilyReadingOut), required=True)
    overdue = fields.Boolean(required=True)


class FamilyStaffContractPage(PageOut):
    """A page of the team's contracts or applications."""

    items = fields.List(fields.Nested(FamilyStaffContractOut), required=True)


class FamilyQueueQuery(PageQuery):
    """The applications queue (oldest first) of one status."""

    status = Text(load_default="applied", validate=validate.OneOf(QUEUE_STATUSES))


class FamilyStaffTeamList(Schema):
    """The teams the staff member works in."""

    items = fields.List(fields.Nested(FamilyTeamOut), required=True)


class FamilyPlanIn(StrictSchema):
    """One follow-up: a reading of `kind` every `interval_days`."""

    kind = Text(required=True, validate=validate.OneOf(VITAL_KINDS))
    interval_days = fields.Integer(required=True, strict=True, validate=validate.Range(
        1, 365, error="随访间隔应为1-365天"))
    note = Text(load_default=None, allow_none=True, validate=validate.Length(1, 100))


class FamilyPlansIn(StrictSchema):
    """The contract's follow-up plans (replacing the present set; empty ends them all)."""

    plans = fields.List(fields.Nested(FamilyPlanIn), required=True, validate=validate.Length(0, len(VITAL_KINDS)))

    @validates_schema
    def distinct(self, data, **_):
        """One plan per kind."""
        kinds = [plan["kind"] for plan in data.get("plans", [])]
        if len(set(kinds)) != len(kinds):
            raise ValidationError("同一指标只能设置一个随访计划", field_name="plans")


class FamilyPlanList(Schema):
    """Follow-up plans."""

    items = fields.List(fields.Nested(FamilyFollowUpOut), required=True)


class FamilyOverdueOut(FamilyFollowUpOut):
    """An overdue follow-up and whose it is."""

    contract_id = fields.String(required=True)
    patient_id = fields.String(required=True)
    patient_name = fields.String(required=True)
    community = fields.String(allow_none=True, required=True)


class FamilyOverdueList(Schema):
    """Overdue follow-ups, longest overdue first."""

    items = fields.List(fields.Nested(FamilyOverdueOut), required=True)
