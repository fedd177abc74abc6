"""Request and response bodies for sign-in and patients."""
import re

from marshmallow import Schema, ValidationError, fields, validate

from ..common.masking import mask_id_number, mask_name, mask_phone
from ..common.schemas import StrictSchema, Text
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


class PatientOut(Schema):
    """A 就诊人 as the account sees it: personal data masked."""

    id = fields.Function(lambda link: link.patient.id, required=True)
    name = fields.Function(lambda link: mask_name(link.patient.name), required=True)
    id_number = fields.Function(lambda link: mask_id_number(link.patient.id_number), required=True)
    phone = fields.Function(lambda link: mask_phone(link.patient.phone), allow_none=True)
    relation = fields.String(required=True)
    gender = fields.Function(lambda link: link.patient.gender, required=True)
    birth_date = fields.Function(lambda link: link.patient.birth_date.isoformat(), required=True)


class PatientListOut(Schema):
    """All of the account's 就诊人."""

    items = fields.List(fields.Nested(PatientOut), required=True)
