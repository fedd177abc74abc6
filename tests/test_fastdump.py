"""The hand-compiled dump of the report answers equals marshmallow's dump of the same data, field for field."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, fields, post_dump

from patient_api.common import fastdump
from patient_api.results.models import FLAGS, KINDS
from patient_api.results.schemas import ReportDetail, ReportList

instants = st.one_of(st.none(), st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2199, 1, 1),
                                             timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=8)),
                                                                        timezone(timedelta(hours=-5))])))
texts = st.one_of(st.none(), st.text(max_size=12))
numbers = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**6, 10**6))


def maybe_without(draw, record, keys):
    """Drop some optional keys: marshmallow leaves a missing key out, and so must the fast dump."""
    for key in keys:
        if draw(st.booleans()) and draw(st.booleans()):
            record.pop(key)
    return record


@st.composite
def result_items(draw):
    return maybe_without(draw, {
        "code": draw(st.text(min_size=1, max_size=8)), "name": draw(st.text(max_size=8)), "value": draw(texts),
        "value_num": draw(numbers), "unit": draw(texts), "reference_range": draw(texts), "ref_low": draw(numbers),
        "ref_high": draw(numbers), "flag": draw(st.one_of(st.none(), st.sampled_from(FLAGS))),
        "critical": draw(st.booleans()), "observed_at": draw(instants)}, ("unit", "observed_at", "value"))


@st.composite
def summaries(draw):
    return {"id": draw(st.text(min_size=1, max_size=10)), "patient_id": draw(st.text(min_size=1, max_size=10)),
            "hospital_id": "H1", "hospital_name": draw(texts), "kind": draw(st.sampled_from(KINDS)),
            "title": draw(st.text(max_size=20)), "status": draw(st.sampled_from(("final", "amended", "partial"))),
            "preliminary": draw(st.booleans()), "issued_at": draw(instants.filter(lambda i: i is not None)),
            "abnormal_count": draw(st.integers(0, 50)), "critical": draw(st.booleans()),
            "mutually_recognised": draw(st.booleans()), "version": draw(st.integers(1, 9)),
            "amended": draw(st.booleans())}


@st.composite
def details(draw):
    report = {**draw(summaries()), "code": draw(texts), "category": draw(texts), "department": draw(texts),
              "performer": draw(texts), "effective_at": draw(instants), "findings": draw(texts),
              "impression": draw(texts), "body": draw(texts), "items": draw(st.lists(result_items(), max_size=6))}
    return maybe_without(draw, report, ("department", "body"))


@st.composite
def pages(draw):
    return {"items": draw(st.lists(summaries(), max_size=5)), "limit": draw(st.integers(1, 100)),
            "offset": draw(st.one_of(st.none(), st.integers(0, 1000))), "has_more": draw(st.booleans()),
            "next_cursor": draw(texts), "next_offset": draw(st.one_of(st.none(), st.integers(0, 1000)))}


@settings(max_examples=60, deadline=None)
@given(pages())
def test_a_report_page_dumps_as_marshmallow_dumps_it(page):
    assert fastdump.dumper(ReportList)(page) == ReportList().dump(page)


@settings(max_examples=60, deadline=None)
@given(details())
def test_a_report_detail_dumps_as_marshmallow_dumps_it(report):
    assert fastdump.dumper(ReportDetail)(report) == ReportDetail().dump(report)


def test_a_schema_it_cannot_reproduce_is_refused_when_compiled():
    class WithDecimal(Schema):
        amount = fields.Decimal()

    class WithHook(Schema):
        name = fields.String()

        @post_dump
        def shout(self, data, **_):
            return {k: v.upper() for k, v in data.items()}

    class WithDefault(Schema):
        name = fields.String(dump_default="x")

    for schema in (WithDecimal, WithHook, WithDefault):
        with pytest.raises(TypeError):
            fastdump.dumper(schema)
