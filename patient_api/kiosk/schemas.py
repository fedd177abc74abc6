"""Kiosk request and response bodies."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..booking.schemas import slot_start_field
from ..common.schemas import StrictSchema, Text


class CardReadIn(StrictSchema):
    """What the card reader gave: an ID card (number + name from the chip) or an insurance card."""

    method = Text(required=True, validate=validate.OneOf(("id_card", "insurance_card")))
    id_number = Text(validate=validate.Length(1, 32))
    name = Text(validate=validate.Length(1, 50))
    card_number = Text(validate=validate.Length(1, 40))  # 社保卡卡号, kept in the audit only
    ssn = Text(validate=validate.Length(1, 32))  # 社会保障号码 (the ID number)

    @validates_schema
    def fields_for_method(self, data, **_):
        """An ID card read needs number and name; an insurance card its card number and 社会保障号码."""
        needed = ("id_number", "name") if data.get("method") == "id_card" else ("card_number", "ssn")
        missing = {name: ["该读卡方式必填"] for name in needed if not data.get(name)}
        if missing:
            raise ValidationError(missing)


class KioskPatientOut(Schema):
    """Who the session serves, masked for the screen."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    gender = fields.String(required=True)
    elder = fields.Boolean(required=True, metadata={
        "description": "65 or over today: the elder pool's tickets (schedule `reserved.elder`) are bookable here"})


class KioskSessionOut(Schema):
    """The session token (send it as Bearer with the signed requests) and its idle time."""

    token = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    patient = fields.Nested(KioskPatientOut, required=True)


class KioskBookIn(StrictSchema):
    """Book a schedule for the session's patient, optionally in one time window."""

    schedule_id = Text(required=True, validate=validate.Length(1, 40))
    slot_start = slot_start_field()


class PrintQuery(StrictSchema):
    """The printer the rendering is for."""

    format = Text(load_default="thermal80", validate=validate.OneOf(("thermal80", "a4")))
