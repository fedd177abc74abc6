"""Request and response bodies for sign-in and patients."""
import re

from marshmallow import Schema, ValidationError, fields, post_dump, validate, validates_schema

from ..common.clock import today_local
from ..common.masking import mask_id_number, mask_name, mask_phone
from ..common.schemas import LocalDateTime, StrictSchema, Text
from .identity import InvalidIdNumber, parse_resident_id
from .models import RELATIONS

NAME = re.compile(r"^[\u4e00-\u9fffA-Za-z·• .'-]{1,30}$")


class IdNumber(Text):
    """A resident ID number: checksum, birth date and region checked (the Chinese reason is the error)."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(1, 32), **kwargs)  # also documents the length in OpenAPI

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parse_resident_id(text)
        except InvalidIdNumber as exc:
            raise ValidationError(str(exc)) from None
        return text


class DevLoginIn(StrictSchema):
    """Dev login: any openid."""

    openid = Text(required=True, validate=validate.Length(1, 64))


class WechatLoginIn(StrictSchema):
    """The code WeChat put on the OAuth redirect."""

    code = Text(required=True, validate=validate.Length(1, 256))


class TokenOut(Schema):
    """A session token."""

    token = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class PatientIn(StrictSchema):
    """A 就诊人 to add."""

    name = Text(required=True, validate=validate.Regexp(NAME, error="姓名格式不正确"))
    id_number = IdNumber(required=True)
    phone = Text(load_default=None, allow_none=True, validate=validate.Length(1, 20))
    relation = Text(required=True, validate=validate.OneOf(RELATIONS))


def _shown_name(link):
    """The legal name once verified; before that only what this account typed (a claim reveals nobody's name)."""
    return mask_name(link.patient.name if link.verified else link.claimed_name)


def _age(born, today=None):
    today = today or today_local()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class PatientOut(Schema):
    """A 就诊人 as the account sees it: personal data masked; the birth date only to the verified person."""

    id = fields.Function(lambda link: link.patient.id, required=True)
    name = fields.Function(_shown_name, required=True)
    id_number = fields.Function(lambda link: mask_id_number(link.patient.id_number), required=True)
    phone = fields.Function(lambda link: mask_phone(link.phone), allow_none=True)
    relation = fields.String(required=True)
    gender = fields.Function(lambda link: link.patient.gender, required=True)
    age = fields.Function(lambda link: _age(link.patient.birth_date), required=True)
    link_status = fields.String(attribute="status", required=True,
                                metadata={"description": "claimed | pending | verified"})
    birth_date = fields.Function(
        lambda link: link.patient.birth_date.isoformat() if link.verified and link.relation == "self" else None,
        metadata={"description": "only on the person's own verified link"})
    verified_method = fields.String(allow_none=True)

    @post_dump
    def _drop_hidden(self, data, **kwargs):
        """Leave birth_date out entirely rather than null when it may not be shown."""
        if data.get("birth_date") is None:
            data.pop("birth_date", None)
        return data


class PatientListOut(Schema):
    """All of the account's 就诊人."""

    items = fields.List(fields.Nested(PatientOut), required=True)


class VerificationIn(StrictSchema):
    """How to verify: `sms` sends a code to the phone hospitals hold for the person."""

    method = Text(required=True, validate=validate.OneOf(("sms",), error="请选择验证方式：sms"))


class VerificationStarted(Schema):
    """Where the code went (masked) and for how long it is valid."""

    phone = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    resend_after = fields.Integer(required=True)


class VerificationConfirmIn(StrictSchema):
    """The SMS code, or a binding code from a kiosk or counter."""

    code = Text(validate=validate.Regexp(r"^\d{6}$", error="请输入6位数字验证码"))
    binding_code = Text(validate=validate.Regexp(r"^\d{8}$", error="请输入8位数字绑定码"))

    @validates_schema
    def _one_of(self, data, **kwargs):
        if ("code" in data) == ("binding_code" in data):
            raise ValidationError("请填写短信验证码或绑定码其中一项", field_name="code")


class LinkOut(Schema):
    """An account linked to the person, as the person sees it."""

    id = fields.String(required=True)
    relation = fields.String(required=True)
    label = fields.String(required=True)
    status = fields.String(required=True)
    created_at = LocalDateTime(required=True)
    verified_at = LocalDateTime(allow_none=True)
    verified_method = fields.String(allow_none=True)
    account = fields.String(required=True)
    is_me = fields.Boolean(required=True)


class LinkListOut(Schema):
    """Every account linked to the person."""

    items = fields.List(fields.Nested(LinkOut), required=True)


class BindingCodeOut(Schema):
    """A one-time code the resident types on the phone."""

    binding_code = fields.String(required=True)
    expires_in = fields.Integer(required=True)
