"""The orjson provider writes what Flask's standard provider writes, for every JSON value and for the extra types
the app answers with — byte for byte, except that a float may be spelt otherwise (0.00006103515625 for
6.103515625e-05: the same number); what orjson refuses goes through the standard provider."""
import dataclasses
import datetime
import decimal
import json
import uuid

import pytest
from flask.json.provider import DefaultJSONProvider
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patient_api.common.jsonio import FastJSONProvider

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 63), max_value=2 ** 64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5), max_leaves=30)


@dataclasses.dataclass
class Point:
    x: int
    y: str


@pytest.fixture
def app_json(app):
    """The test app, whose provider is the orjson one."""
    assert isinstance(app.json, FastJSONProvider)
    return app


def both(app, *args, **kwargs):
    """(ours, the standard provider's) bodies and content types for the same jsonify() arguments."""
    with app.test_request_context():
        ours = app.json.response(*args, **kwargs)
        theirs = DefaultJSONProvider.response(app.json, *args, **kwargs)
        return (ours.get_data(), ours.mimetype), (theirs.get_data(), theirs.mimetype)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=JSON)
def test_any_json_value_is_written_as_the_standard_provider_writes_it(app_json, value):
    ours, theirs = both(app_json, value)
    assert json.loads(ours[0]) == json.loads(theirs[0]) and ours[1] == theirs[1]
    if not has_float(value):
        assert ours == theirs


def has_float(value):
    """Whether a float is anywhere in the value."""
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, list) and any(has_float(item) for item in value)


@pytest.mark.parametrize("value", [
    {"名字": "张三", "b": [1.5, 1e16, 0.1, -0.0, 5e-324, 135.0, 3.5], "a": None},
    {"at": datetime.datetime(2026, 12, 1, 7, 0, tzinfo=datetime.timezone.utc), "day": datetime.date(2026, 12, 1)},
    {"fee": decimal.Decimal("12.30"), "id": uuid.UUID(int=7), "point": Point(1, "北")},
    {"huge": 2 ** 70}, {1: "a key that is not text"},
])
def test_the_app_s_other_values_and_what_orjson_refuses(app_json, value):
    ours, theirs = both(app_json, value)
    assert ours == theirs


def test_text_that_is_not_unicode_fails_as_it_did(app_json):
    """A lone surrogate (the strict JSON reader never lets one in) cannot be UTF-8 on either path."""
    with pytest.raises(UnicodeEncodeError):
        both(app_json, ["\ud800"])


def test_jsonify_arguments_and_debug_pretty_printing_are_the_standard_ones(app_json):
    assert both(app_json, status="ok") == both(app_json, {"status": "ok"})
    assert both(app_json, 1, 2)[0] == both(app_json, 1, 2)[1]
    app_json.debug = True
    try:
        ours, theirs = both(app_json, {"b": 1, "a": [1, 2]})
        assert ours == theirs and b"\n  " in ours[0]
    finally:
        app_json.debug = False
