"""Bad input of any kind: a 4xx with a stable code, never a 500, nothing stored half-way."""
import pytest
import sqlalchemy as sa

from patient_api.extensions import db

PATIENTS = "/api/v1/me/patients"


def count_patients(app):
    with app.app_context():
        return db.session.execute(sa.text("SELECT count(*) FROM patients")).scalar()


@pytest.mark.parametrize("data, content_type, status, code", [
    ('{"name": "张三", '.encode(), "application/json", 400, "malformed_json"),
    (b'\xff\xfe{"name": "\xd5\xc5"}', "application/json", 400, "malformed_json"),
    (b'[1, 2, 3]', "application/json", 422, "validation_error"),
    (b'"just a string"', "application/json", 422, "validation_error"),
    (b'name=x', "application/x-www-form-urlencoded", 422, "validation_error"),
])
def test_unparseable_bodies(app, client, make, data, content_type, status, code):
    headers = make.login()
    response = client.post(PATIENTS, data=data, headers={**headers, "Content-Type": content_type})
    assert response.status_code == status and response.json["code"] == code
    assert count_patients(app) == 0


@pytest.mark.parametrize("body, field", [
    ({"name": 123, "id_number": "x", "relation": "self"}, "name"),
    ({"name": "张三", "id_number": ["370902"], "relation": "self"}, "id_number"),
    ({"name": "张" * 31, "id_number": "37090219860101001X", "relation": "self"}, "name"),
    ({"name": "张三", "id_number": "1" * 5000, "relation": "self"}, "id_number"),
    ({"name": "张三", "id_number": "37090219860101001X", "relation": "self", "admin": True}, "admin"),
    ({"name": "张三\u0000", "id_number": "37090219860101001X", "relation": "self"}, "name"),
    ({"id_number": "37090219860101001X", "relation": "self"}, "name"),
])
def test_wrong_types_and_sizes_name_the_field(app, client, make, body, field):
    response = client.post(PATIENTS, json=body, headers=make.login())
    assert response.status_code == 422 and field in response.json["errors"]
    assert count_patients(app) == 0


def test_wrong_types_on_booking(client, make):
    headers, _ = make.resident()
    for body in ({"schedule_id": 1, "patient_id": True}, {"schedule_id": None}, {}, {"schedule_id": "x" * 500,
                                                                                      "patient_id": "y"}):
        response = client.post("/api/v1/appointments", json=body, headers=headers)
        assert response.status_code == 422 and response.json["code"] == "validation_error", body


def test_unknown_ids_everywhere_are_404(client, make):
    headers, _ = make.resident()
    response = client.post("/api/v1/appointments", json={"schedule_id": "sch_nope", "patient_id": "pat_nope"},
                           headers=headers)
    assert response.status_code == 404
    for path in ("/api/v1/appointments/apt_nope", "/api/v1/me/patients/pat_nope"):
        assert client.get(path, headers=headers).status_code == 404


def test_plain_http_errors_use_the_envelope(client):
    assert client.get("/api/v1/nowhere").json == {"code": "not_found", "message": "未找到该资源"}
    response = client.delete("/api/v1/hospitals")
    assert response.status_code == 405 and response.json["code"] == "method_not_allowed"
    response = client.post("/api/v1/auth/dev-login", data=b"x" * (2 * 1024 * 1024),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json["code"] == "payload_too_large"


def test_overlong_idempotency_key(client, make):
    headers, patient_id = make.resident()
    response = client.post("/api/v1/appointments", json={"schedule_id": "s", "patient_id": patient_id},
                           headers={**headers, "Idempotency-Key": "k" * 256})
    assert response.status_code == 422 and "Idempotency-Key" in response.json["errors"]


def test_unexpected_error_is_500_without_internals(app, client, monkeypatch):
    from patient_api.directory import services

    def boom():
        raise RuntimeError("secret internals 37090219860101001X")
    monkeypatch.setattr(services, "hospitals", boom)
    response = client.get("/api/v1/hospitals")
    assert response.status_code == 500 and response.json["code"] == "internal_error"
    assert "secret" not in response.get_data(as_text=True)


@pytest.mark.parametrize("error", [
    lambda: __import__("redis").ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    lambda: sa.exc.OperationalError("SELECT 1", {}, Exception("terminating connection due to administrator command")),
])
def test_a_store_out_of_reach_is_503_not_500(app, client, monkeypatch, error):
    # Found by bench/faults.py: WeChat Pay notifications and sandbox payments answered 500 while Redis was
    # down or PostgreSQL restarting, where the session lookup already answers 503 (retry).
    from patient_api.directory import services

    def away():
        raise error()
    monkeypatch.setattr(services, "hospitals", away)
    response = client.get("/api/v1/hospitals")
    assert response.status_code == 503 and response.json["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "1"
