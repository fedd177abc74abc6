"""The hospital admin's 先诊疗后付费 policy: read and set (admin only, audited), validated in Chinese storing nothing;
a new limit applies to enrolments from then on and a lower one never takes back credit already given."""
import json

import pytest
import sqlalchemy as sa

from patient_api.common.audit import AuditEntry
from patient_api.credit.models import CreditBill, CreditEnrolment, CreditPolicy
from patient_api.extensions import db

from .credit import World, check_books, credit_path
from .homecare import assert_refused

PATH = "/api/v1/staff/credit/policy"
GOOD = {"enabled": True, "base_limit_fen": 50_000, "family_doctor_limit_fen": 150_000, "insured_limit_fen": 80_000}


@pytest.fixture
def world(app, client, make):
    return World(app, client, make)


def stored(app):
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count()).select_from(CreditPolicy)),
                db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
                    AuditEntry.action == "credit.policy_update")))


def test_the_admin_reads_the_defaults_and_sets_the_policy_audited(app, client, world):
    admin = world.staff(role="admin")
    seen = client.get(PATH, headers=admin).json
    assert (seen["enabled"], seen["custom"], seen["updated_at"]) == (True, False, None)
    assert (seen["base_limit_fen"], seen["family_doctor_limit_fen"], seen["insured_limit_fen"]) == (
        100_000, 300_000, 200_000)
    assert seen["defaults"] == {"base_limit_fen": 100_000, "family_doctor_limit_fen": 300_000,
                                "insured_limit_fen": 200_000}
    assert (seen["min_limit_fen"], seen["max_limit_fen"], seen["hospital_name"]) == (10_000, 5_000_000, "测试医院H1")
    saved = client.put(PATH, json=GOOD, headers=admin)
    assert saved.status_code == 200, saved.json
    admin_id = client.get("/api/v1/staff/me", headers=admin).json["id"]
    assert {k: saved.json[k] for k in GOOD} == GOOD and saved.json["custom"] is True
    assert saved.json["updated_by"] == admin_id and saved.json["updated_at"]
    assert client.get(PATH, headers=admin).json == saved.json
    off = client.put(PATH, json={**GOOD, "enabled": False}, headers=admin).json
    assert off["enabled"] is False
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "credit.policy_update")
                                     .order_by(AuditEntry.id)).all()
        details = [json.loads(entry.detail) for entry in entries]
    assert [(e.actor_id, e.resource) for e in entries] == [(admin_id, world.hospital_id)] * 2
    assert details[0]["before"] == {"enabled": True, "base_limit_fen": 100_000, "family_doctor_limit_fen": 300_000,
                                    "insured_limit_fen": 200_000} and details[0]["after"] == GOOD
    assert details[1]["before"] == GOOD and details[1]["after"] == {**GOOD, "enabled": False}
    # The resident's terms follow, and a disabled hospital takes no new enrolment.
    headers, patient_id, _ = world.resident()
    terms = client.get(credit_path(patient_id, "/policy"), headers=headers,
                       query_string={"hospital_id": world.hospital_id}).json
    assert (terms["enabled"], terms["limit_fen"]) == (False, 50_000)
    refused = world.enrol(headers, patient_id, world.hospital_id, expect=409)
    assert refused["code"] == "credit_not_eligible"


def test_only_the_admin_of_the_hospital_and_a_signed_in_one(app, client, world):
    for role in ("cashier", "nurse", "dispatcher"):
        staff = world.staff(role=role)
        assert_refused(client.get(PATH, headers=staff), 403, "role_forbidden")
        assert_refused(client.put(PATH, json={"enabled": "maybe"}, headers=staff), 403, "role_forbidden")
    assert client.get(PATH).status_code == 401 and client.put(PATH, json=GOOD).status_code == 401
    other = World(app, client, world.make, code="H2")
    client.put(PATH, json=GOOD, headers=other.staff(role="admin"))  # another hospital's admin sets its own
    assert client.get(PATH, headers=world.staff(role="admin")).json["custom"] is False
    assert stored(app) == (1, 1)


@pytest.mark.parametrize("changes, field", [
    ({"base_limit_fen": 9_999}, "base_limit_fen"),
    ({"insured_limit_fen": 5_000_001}, "insured_limit_fen"),
    ({"family_doctor_limit_fen": 40_000}, "family_doctor_limit_fen"),  # below the base
    ({"insured_limit_fen": 49_999}, "insured_limit_fen"),  # below the base
    ({"base_limit_fen": "50000"}, "base_limit_fen"),
    ({"base_limit_fen": 50_000.5}, "base_limit_fen"),
    ({"enabled": 1}, "enabled"),
    ({"enabled": None}, "enabled"),
    ({"limit": 1}, "limit"),
])
def test_bad_policies_are_refused_in_chinese_and_store_nothing(app, client, world, changes, field):
    response = client.put(PATH, json={**GOOD, **changes}, headers=world.staff(role="admin"))
    assert_refused(response, 422, "validation_error")
    assert field in response.json["errors"]
    assert stored(app) == (0, 0)


def test_a_missing_field_is_refused(app, client, world):
    body = {k: v for k, v in GOOD.items() if k != "insured_limit_fen"}
    response = client.put(PATH, json=body, headers=world.staff(role="admin"))
    assert_refused(response, 422, "validation_error")
    assert response.json["errors"] == {"insured_limit_fen": ["必填"]}
    assert stored(app) == (0, 0)


def test_a_lower_limit_never_takes_back_credit_already_given(app, client, world):
    admin = world.staff(role="admin")
    headers, patient_id, person = world.enrolled()  # granted 1,000 元 under the defaults
    for total in (40_000, 30_000):
        assert world.bill(person, total)["hold"] is not None  # 700 元 on credit
    client.put(PATH, json={**GOOD, "base_limit_fen": 50_000, "insured_limit_fen": 50_000}, headers=admin)
    with app.app_context():
        row = db.session.scalars(sa.select(CreditEnrolment).filter_by(patient_id=patient_id)).one()
        assert row.limit_fen == 100_000  # the enrolment keeps what it was granted …
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditBill).where(
            CreditBill.status == "open")) == 2  # … and the bills on credit stay on credit
    assert world.bill(person, 20_000)["hold"] is not None  # within the limit granted at opt-in
    renewed = world.enrol(headers, patient_id, world.hospital_id)  # renewing under the lower policy …
    assert (renewed["limit_fen"], renewed["open_fen"], renewed["available_fen"]) == (90_000, 90_000, 0)
    assert world.bill(person, 100)["hold"] is None  # … gives no new credit, takes none back
    newcomer_headers, newcomer_id, _ = world.enrolled()
    assert client.get(credit_path(newcomer_id), headers=newcomer_headers).json["enrolments"][0]["limit_fen"] == 50_000
    client.put(PATH, json={**GOOD, "enabled": False}, headers=admin)
    assert world.bill(person, 100)["hold"] is None  # turned off: nothing new on credit …
    pending = client.get(credit_path(patient_id), headers=headers).json
    assert pending["pending_total_fen"] == 90_000  # … and what is on credit waits to be settled as usual
    settled = world.settle(headers, patient_id)
    world.pay_jsapi(settled["payment"]["out_trade_no"])
    check_books(app)
