"""Schemas shared by every blueprint."""
import re

from marshmallow import RAISE, Schema, ValidationError, fields

# C0 control characters other than tab and newlines: never meaningful in our text, and PostgreSQL
# refuses NUL outright, which must be a 422 here rather than a database error later.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


class Text(fields.String):
    """A string input without control characters."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if CONTROL.search(text):
            raise ValidationError("不能包含控制字符")
        return text


class LocalDateTime(fields.DateTime):
    """Dumps aware datetimes in Asia/Shanghai, ISO 8601 with offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        from .clock import to_local
        return None if value is None else to_local(value).isoformat()
