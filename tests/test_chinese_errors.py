"""422 bodies speak Chinese: no marshmallow English default reaches a resident, a nurse or an integrator."""
import re

import pytest

from .factories import hospital_key, resident_id

ENGLISH = re.compile(r"[A-Za-z]+ [A-Za-z]+")  # two English words in a row; field names and choices are single tokens
CJK = re.compile(r"[\u4e00-\u9fff]")


def messages(errors):
    """Every message string in an errors tree (field names are keys, not messages)."""
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in messages(value)]
    if isinstance(errors, list):
        return [m for value in errors for m in messages(value)]
    return [errors]


def assert_chinese(response):
    assert response.status_code == 422, response.json
    found = [response.json["message"], *messages(response.json.get("errors", {}))]
    assert len(found) > 1
    english = [m for m in found if ENGLISH.search(m) or not CJK.search(m)]
    assert not english, english


@pytest.mark.parametrize("body", [
    {},  # every required field missing
    {"name": 123, "id_number": ["x"], "phone": None, "relation": "boss", "admin": True},
    {"name": "张" * 31, "id_number": "1" * 40, "relation": "self"},
])
def test_adding_a_patient(client, make, body):
    assert_chinese(client.post("/api/v1/me/patients", json=body, headers=make.login()))


@pytest.mark.parametrize("body", [
    {"schedule_id": 1, "patient_id": None, "slot_start": "yesterday"},
    {"schedule_id": "x" * 500, "patient_id": True, "slot_start": "2026-13-45T99:00:00"},
    [1, 2],
])
def test_booking(client, make, body):
    assert_chinese(client.post("/api/v1/appointments", json=body, headers=make.login()))


def test_query_strings(client, make):
    assert_chinese(client.get("/api/v1/schedules?date=tomorrow&hospital_id=&color=red"))
    headers = make.login()
    assert_chinese(client.get("/api/v1/reports?limit=many&offset=-1&kind=x-ray", headers=headers))


def test_staff_login_and_vitals(client, make):
    assert_chinese(client.post("/api/v1/staff/auth/login", json={"username": 1, "password": 2.5}))
    headers, patient_id = make.resident()
    assert_chinese(client.post(f"/api/v1/patients/{patient_id}/vitals", json={
        "kind": "mood", "value": "120", "measured_at": "now", "unit": 5}, headers=headers))


def test_hospital_pushes(app, client):
    key = hospital_key(app)
    assert_chinese(client.post("/api/v1/integration/admissions", json={
        "admission_no": "", "patient": {"id_number": 5}, "admitted_at": "monday", "bed_no": None, "x": 1},
        headers=key))
    assert_chinese(client.post("/api/v1/integration/admissions/ZY1/charges", json={"items": [
        {"source_id": "a", "date": "today", "quantity": "two", "unit_price_fen": 1.5, "insurance_class": "gold"},
        {"source_id": "a"}]}, headers=key))
    assert_chinese(client.post("/api/v1/integration/admissions/ZY1/charges", json={"items": []}, headers=key))


def test_refusals_after_validation(app, client, make):
    key = hospital_key(app)
    assert_chinese(client.post("/api/v1/integration/bills", headers=key, json={
        "order_no": "MZ-1", "patient": {"mrn": "NOBODY"}, "items": [
            {"code": "J1", "name": "心电图", "category": "检查", "quantity": 1, "unit_price_fen": 100}]}))
    admission = {"admission_no": "ZY1", "patient": {"id_number": resident_id(9401), "name": "张三"},
                 "ward_code": "W1", "bed_no": "1", "insurance_type": "employee"}
    assert_chinese(client.post("/api/v1/integration/admissions", headers=key, json={
        **admission, "admitted_at": "2099-01-01T08:00:00+08:00"}))
    admitted = client.post("/api/v1/integration/admissions", headers=key, json={
        **admission, "admitted_at": "2020-01-01T08:00:00+08:00"})
    assert admitted.status_code == 201, admitted.json
    assert_chinese(client.post("/api/v1/integration/admissions/ZY1/discharge-order", headers=key,
                               json={"discharge_at": "2099-01-01T08:00:00+08:00"}))


def test_schemas_used_outside_requests():
    from marshmallow import ValidationError

    from patient_api.kiosk.schemas import CardReadIn
    from patient_api.results.schemas import PageQuery
    for schema, data in ((CardReadIn(), {"method": "passport"}), (CardReadIn(), {"method": "id_card"}),
                         (PageQuery(), {"cursor": "!!", "offset": 1})):
        with pytest.raises(ValidationError) as refused:
            schema.load(data)
        english = [m for m in messages(refused.value.messages) if ENGLISH.search(m) or not CJK.search(m)]
        assert not english, english
