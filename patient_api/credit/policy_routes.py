"""先诊疗后付费 policy for the hospital's admin: read and set whether it is offered and the limits (audited)."""
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..common.auth import BEARER_DOC, current_staff_id
from ..common.blueprint import Blueprint
from ..common.schemas import LocalDateTime, StrictSchema
from . import policy_admin
from .policy_admin import MAX_LIMIT_FEN, MIN_LIMIT_FEN

blp = Blueprint("credit_policy", __name__, description="先诊疗后付费 policy of the hospital (admin)")
LIMIT = validate.Range(MIN_LIMIT_FEN, MAX_LIMIT_FEN,
                       error=f"额度应在 {MIN_LIMIT_FEN // 100} 元到 {MAX_LIMIT_FEN // 100} 元之间（单位：分）")


class StrictBool(fields.Boolean):
    """A JSON true or false (not 0, 1 or "yes")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PolicyIn(StrictSchema):
    """The whole policy (PUT replaces it); limits in fen."""

    enabled = StrictBool(required=True, metadata={"description": "false: no new bills on credit, no new enrolments"})
    base_limit_fen = fields.Integer(required=True, strict=True, validate=LIMIT,
                                    metadata={"description": "基础额度, for everyone"})
    family_doctor_limit_fen = fields.Integer(required=True, strict=True, validate=LIMIT,
                                             metadata={"description": "家庭医生签约 residents; not below the base"})
    insured_limit_fen = fields.Integer(required=True, strict=True, validate=LIMIT,
                                       metadata={"description": "the insured (not self-pay); not below the base"})

    @validates_schema
    def not_below_base(self, data, **_):
        """The highest applicable limit is granted: one below the base would never be used, so it is a mistake."""
        base = data.get("base_limit_fen")
        if base is None:
            return
        errors = {}
        if data.get("family_doctor_limit_fen", base) < base:
            errors["family_doctor_limit_fen"] = ["家庭医生签约额度不能低于基础额度"]
        if data.get("insured_limit_fen", base) < base:
            errors["insured_limit_fen"] = ["参保人员额度不能低于基础额度"]
        if errors:
            raise ValidationError(errors)


class LimitsOut(Schema):
    """The three limits, in fen."""

    base_limit_fen = fields.Integer(required=True)
    family_doctor_limit_fen = fields.Integer(required=True)
    insured_limit_fen = fields.Integer(required=True)


class PolicyOut(LimitsOut):
    """The hospital's policy as it applies now."""

    hospital_id = fields.String(required=True)
    hospital_name = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    custom = fields.Boolean(required=True, metadata={"description": "false: the configured defaults apply"})
    updated_at = LocalDateTime(allow_none=True, required=True)
    updated_by = fields.String(allow_none=True, required=True, metadata={"description": "staff id of the admin"})
    defaults = fields.Nested(LimitsOut, required=True, metadata={"description": "the configured defaults"})
    min_limit_fen = fields.Integer(required=True)
    max_limit_fen = fields.Integer(required=True)


@blp.before_request
def _admin_first():
    """A staff session (401) of an admin (403) before anything else, never a 422 about the body."""
    current_staff_id()
    policy_admin.current_admin()


@blp.route("/staff/credit/policy")
class Policy(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, PolicyOut)
    def get(self):
        """The hospital's 先诊疗后付费 policy (admin; 403 role_forbidden for other roles)."""
        return policy_admin.view(policy_admin.current_admin().hospital_id)

    @blp.doc(**BEARER_DOC)
    @blp.arguments(PolicyIn())
    @blp.response(200, PolicyOut)
    def put(self, body):
        """Set it (audited). Limits 100–50,000 元 in fen, family-doctor and insured not below the base. A lower limit
        applies to enrolments from now on and never takes back credit already given; `enabled: false` stops new
        credit at once, bills already on credit are settled as usual."""
        return policy_admin.update(policy_admin.current_admin(), body)
