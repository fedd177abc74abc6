"""Bodies of the report endpoints: queries, paging, report summaries and details, history, trends."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..common.schemas import LocalDateTime, StrictSchema, Text
from . import rules
from .models import FLAGS, KINDS
from .queries import decode_cursor

ID = validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$")


class Cursor(Text):
    """The next_cursor of an earlier page."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return decode_cursor(super()._deserialize(value, attr, data, **kwargs))
        except ValueError:
            raise ValidationError("翻页游标无效") from None


class PageQuery(StrictSchema):
    """Paging: up to `limit` items after `cursor` (preferred: stable while new items arrive) or at `offset`."""

    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    cursor = Cursor(validate=validate.Length(1, 300))
    offset = fields.Integer(validate=validate.Range(0, 100_000))

    @validates_schema
    def one_position(self, data, **_):
        """A cursor and an offset would contradict each other."""
        if "cursor" in data and "offset" in data:
            raise ValidationError("cursor 与 offset 只能给一个", field_name="offset")


class PageOut(Schema):
    """Paging fields of a paged list."""

    limit = fields.Integer(required=True)
    offset = fields.Integer(allow_none=True)
    has_more = fields.Boolean(required=True)
    next_cursor = fields.String(allow_none=True, required=True)
    next_offset = fields.Integer(allow_none=True)


class ReportQuery(PageQuery):
    """Filter by one linked patient, by kind and by hospital."""

    patient_id = Text(validate=ID)
    kind = Text(validate=validate.OneOf(KINDS))
    hospital_id = Text(validate=ID)


class TrendQuery(StrictSchema):
    """The test code (LOINC or the hospital's local code)."""

    code = Text(required=True, validate=validate.Length(1, 64))


class ReportSummary(Schema):
    """A report in a list."""

    id = fields.String(required=True)
    patient_id = fields.String(required=True)
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    title = fields.String(required=True)
    status = fields.String(required=True)
    preliminary = fields.Boolean(required=True)
    issued_at = LocalDateTime(required=True)
    abnormal_count = fields.Integer(required=True)
    critical = fields.Boolean(required=True)
    mutually_recognised = fields.Boolean(required=True)
    version = fields.Integer(required=True)
    amended = fields.Boolean(required=True)


class ReportList(PageOut):
    """Reports, newest first."""

    items = fields.List(fields.Nested(ReportSummary), required=True)


class ResultItem(Schema):
    """One result of a lab report."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    value = fields.String(allow_none=True)
    value_num = fields.Float(allow_none=True)
    unit = fields.String(allow_none=True)
    reference_range = fields.Method("range_text", allow_none=True)
    flag = fields.String(allow_none=True, validate=validate.OneOf(FLAGS))
    critical = fields.Boolean(required=True)
    observed_at = LocalDateTime(allow_none=True)

    def range_text(self, item):
        """The sender's text, else built from the numeric bounds (3.5-5.5, >3.5, <5.5)."""
        get = item.get if isinstance(item, dict) else lambda name: getattr(item, name)
        return rules.range_text(get("reference_range"), get("ref_low"), get("ref_high"))


class ReportDetail(ReportSummary):
    """A report with everything in it."""

    patient_id = fields.String(allow_none=True, required=True)  # a hospital may read a not-yet-registered person's
    code = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    performer = fields.String(allow_none=True)
    effective_at = LocalDateTime(allow_none=True)
    findings = fields.String(allow_none=True)
    impression = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    items = fields.List(fields.Nested(ResultItem), required=True)


class HospitalReport(ReportDetail):
    """A report as its sending hospital reads it back, with the release state."""

    source_id = fields.String(required=True)
    sensitive = fields.Boolean(required=True)
    released_at = LocalDateTime(allow_none=True)
    visible = fields.Boolean(required=True)


class ReleaseOut(Schema):
    """A report's release state, as the releasing hospital is told."""

    id = fields.String(required=True)
    source_id = fields.String(required=True)
    released_at = LocalDateTime(allow_none=True)
    visible = fields.Boolean(required=True)


class ReportVersionOut(Schema):
    """An earlier version of a report, as it was."""

    version = fields.Integer(required=True)
    status = fields.String(required=True)
    replaced_at = LocalDateTime(required=True)
    title = fields.String(required=True)
    issued_at = LocalDateTime(allow_none=True)
    findings = fields.String(allow_none=True)
    impression = fields.String(allow_none=True)
    body = fields.String(allow_none=True)
    items = fields.List(fields.Nested(ResultItem), required=True)


class ReportHistory(Schema):
    """The current version number and the versions it replaced, newest first."""

    report_id = fields.String(required=True)
    version = fields.Integer(required=True)
    items = fields.List(fields.Nested(ReportVersionOut), required=True)


class TrendPoint(ResultItem):
    """One value of a trend."""

    source = fields.String(required=True, validate=validate.OneOf(("hospital", "resident")),
                           metadata={"description": "measured at a hospital, or uploaded by the resident or family"})
    hospital_id = fields.String(allow_none=True, required=True)
    hospital_name = fields.String(allow_none=True)
    report_id = fields.String(allow_none=True)
    ref_low = fields.Float(allow_none=True, metadata={"description": "bounds of the reference range (a chart band)"})
    ref_high = fields.Float(allow_none=True)
    context = fields.String(allow_none=True, metadata={"description": "glucose uploads: fasting|after_meal|random"})


class TrendOut(Schema):
    """A test's values from every hospital, oldest first."""

    patient_id = fields.String(required=True)
    code = fields.String(required=True)
    items = fields.List(fields.Nested(TrendPoint), required=True)
