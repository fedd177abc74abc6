"""Property-based API fuzzing against the served OpenAPI document: no 5xx, responses match the schema.

Surrogates, NUL, deep nesting, huge numbers and Unicode digits are sent to every operation by every caller kind in
tests/test_fuzz_hostile.py; dates and times here include the ends of the calendar."""
import os
from datetime import timedelta, timezone

import pytest
import responses
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi import checks

from patient_api import create_app

from .factories import hospital_key

# Accepting unknown-but-well-formed ids with 404, and refusing other callers' ids, are the contract:
# the checks that expect every schema-valid request to succeed don't apply.
CHECKS = [checks.status_code_conformance, checks.content_type_conformance, checks.response_schema_conformance,
          checks.response_headers_conformance, checks.negative_data_rejection]


def served_document():
    """The document exactly as the service serves it (building it touches no database)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": None})
    return app.test_client().get("/api/openapi.json").json


# Dates and times: ordinary ones, plus the ends of Python's range that once overflowed on the way to UTC.
EXTREME_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1899-12-31T23:59:59+08:00"]
_ZONES = st.sampled_from([timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=-12))])
schemathesis.openapi.format("date-time", st.one_of(
    st.datetimes(timezones=_ZONES).map(lambda moment: moment.isoformat()), st.sampled_from(EXTREME_TIMES)))
schemathesis.openapi.format("date", st.one_of(
    st.dates().map(lambda day: day.isoformat()), st.sampled_from(["0001-01-01", "9999-12-31", "1899-12-31"])))
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "40"))  # per operation; raise it for a deeper run
schema = schemathesis.openapi.from_dict(served_document())
# The test signs in itself; a generated or removed Authorization header would be overridden, and a
# "missing header" mutation that never reaches the wire would be misread as accepted bad input.
schema.config.generation.update(with_security_parameters=False)


@pytest.fixture
def wechat():
    """WeChat's OAuth endpoint answering as it does for a made-up code (no call leaves the machine)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get("https://api.weixin.qq.com/sns/oauth2/access_token",
                 json={"errcode": 40029, "errmsg": "invalid code"})
        yield mock


@pytest.fixture
def insiders(app, client):
    """A hospital system's key and a signed-in admin of that hospital, for the integration and staff paths."""
    key = hospital_key(app)
    created = app.test_cli_runner().invoke(args=["staff", "create", "--hospital", "H1", "--username", "fuzz.admin",
                                                 "--password", "fuzz-admin-2026", "--role", "admin", "--wards", "W1"])
    assert created.exit_code == 0, created.output
    token = client.post("/api/v1/staff/auth/login", json={"username": "fuzz.admin", "password": "fuzz-admin-2026"})
    return {"/api/v1/integration/": key, "/api/v1/staff/": {"Authorization": f"Bearer {token.json['token']}"}}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_errors_and_matches_its_schema(case, app, make, wechat, insiders):
    """Signed in as the caller each path serves (resident, staff, hospital); requests run against the test database."""
    headers = next((h for prefix, h in insiders.items() if case.path.startswith(prefix)), None) or make.resident()[0]
    response = case.call(headers=headers, app=app)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    case.validate_response(response, checks=CHECKS)
