"""Schemas shared by every blueprint."""
import re
from datetime import date

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


# Input dates and times a hospital or resident may send: wide enough for any real birth, visit or report, and far
# from the ends of Python's datetime, where converting 0001-01-01T00:00+14:00 to UTC overflows.
EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)


class Instant(fields.AwareDateTime):
    """An input instant with offset (none given: Asia/Shanghai), between 1900 and 2199."""

    def __init__(self, **kwargs):
        from .clock import LOCAL
        kwargs.setdefault("default_timezone", LOCAL)
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST <= moment.replace(tzinfo=None).date() <= LATEST:
            raise ValidationError("时间超出允许范围（1900–2199 年）")
        return moment


class Day(fields.Date):
    """An input calendar date between 1900 and 2199 (date arithmetic near year 1 or 9999 overflows)."""

    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST <= day <= LATEST:
            raise ValidationError("日期超出允许范围（1900–2199 年）")
        return day
