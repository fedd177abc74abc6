"""Schemas shared by every blueprint."""
from marshmallow import RAISE, Schema, fields


class ErrorSchema(Schema):
    """The error envelope."""

    code = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict()


class StrictSchema(Schema):
    """Input schema (body or query): unknown fields are an error, so typos are reported instead of ignored."""

    class Meta:
        ordered = True
        unknown = RAISE


class LocalDateTime(fields.DateTime):
    """Dumps aware datetimes in Asia/Shanghai, ISO 8601 with offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        from .clock import to_local
        return None if value is None else to_local(value).isoformat()
