"""Contracts pushed by a centre's system and contracts signed online are the same rows under the same rules: each
sees the other, one is in force per person, the centre can end or renew what was signed online."""
import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.credit.policy import has_family_doctor
from patient_api.extensions import db
from patient_api.family import contracts
from patient_api.family.models import FollowUpPlan

from .family import API, Clinic, contracts_count, person_id, pushed, told
from .homecare import assert_refused


def test_a_pushed_contract_is_the_persons_contract_online(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, person = clinic.resident()
    response = clinic.push(pushed(person["id_number"], team_code=clinic.team_code("a"), package_code="JC"))
    assert response.status_code == 201 and response.json["status"] == "active"
    mine = client.get(f"{API}/me/family/contracts", headers=headers).json["items"]
    assert [(c["source"], c["team_id"], c["package_id"], c["status"]) for c in mine] == [
        ("push", clinic.team_a, clinic.basic, "active")]
    assert client.get(f"{API}/family/teams/{clinic.team_a}").json["remaining"] == 99
    roster = client.get(f"{API}/staff/family/teams/{clinic.team_a}/roster", headers=clinic.staff_a).json["items"]
    assert [c["id"] for c in roster] == [mine[0]["id"]]
    assert_refused(client.post(f"{API}/me/family/contracts", headers=headers, json={
        "patient_id": patient_id, "team_id": clinic.team_b, "package_id": clinic.basic, "region_code": "370911",
        "community": "范镇村"}), 409, "already_signed")
    with app.app_context():
        assert contracts.signed_team(patient_id)["team_id"] == clinic.team_a
    # Matched by the team's exact name when no code is sent.
    other_headers, other_id, other = clinic.resident()
    clinic.push(pushed(other["id_number"], contract_no="QY-2", team="范镇卫生院家庭医生二团队"))
    with app.app_context():
        assert contracts.signed_team(other_id)["team_id"] == clinic.team_b


def test_an_online_contract_is_what_the_record_the_credit_limit_and_the_clinic_see(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    assert client.get(f"{API}/patients/{patient_id}/record", headers=headers).json["family_doctor"]["contract_no"] \
        == contract["contract_no"]
    with app.app_context():
        assert has_family_doctor(db.session.get(Patient, patient_id))  # the higher 先诊疗后付费 limit applies
    hooks = told(app, "family_doctor_contract.changed", "hospital_webhook")
    assert [(p["data"]["contract_no"], p["data"]["status"], p["data"]["previous_status"]) for _, p in hooks] == [
        (contract["contract_no"], "active", "applied")]


def test_the_centre_ends_renews_or_conflicts_with_an_online_contract(app, client, make):
    clinic = Clinic(app, client, make)
    elsewhere = Clinic(app, client, make, code="XCWSY")
    headers, patient_id, person = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    plans = client.put(f"{API}/staff/family/contracts/{contract['id']}/follow-up-plans", headers=clinic.staff_a,
                       json={"plans": [{"kind": "blood_pressure", "interval_days": 30}]})
    assert plans.status_code == 200, plans.json

    conflict = elsewhere.push(pushed(person["id_number"], contract_no="XC-1"))
    assert_refused(conflict, 409, "already_signed")
    assert contracts_count(app) == 1

    renewal = clinic.push(pushed(person["id_number"], contract_no="QY-2026-9", team_code=clinic.team_code("a")))
    assert renewal.status_code == 201 and renewal.json["status"] == "active"
    assert clinic.mine(headers, contract["id"]).json["status"] == "renewed"
    with app.app_context():
        moved = db.session.scalars(sa.select(FollowUpPlan.contract_id).filter_by(active=True)).all()
    assert moved == [renewal.json["id"]]  # the follow-ups went with the renewal

    ended = clinic.push(pushed(person["id_number"], contract_no="QY-2026-9", team_code=clinic.team_code("a"),
                               status="ended"))
    assert ended.status_code == 200 and ended.json["status"] == "ended"
    assert contracts_count(app, status="active") == 0
    with app.app_context():
        assert db.session.scalars(sa.select(FollowUpPlan).filter_by(active=True)).all() == []
        assert contracts.signed_team(patient_id) is None
    assert elsewhere.push(pushed(person["id_number"], contract_no="XC-1")).status_code == 201  # now free


def test_the_centre_moves_a_person_to_another_team_and_ends_an_online_contract_by_its_number(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, person = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    moved = clinic.push(pushed(person["id_number"], contract_no="QY-7", team_code=clinic.team_code("b")))
    assert moved.status_code == 201
    assert clinic.mine(headers, contract["id"]).json["status"] == "ended"
    again_headers, again_id, again = clinic.resident()
    online = clinic.signed(again_headers, again_id)
    end = clinic.push(pushed(again["id_number"], contract_no=online["contract_no"], team_code=clinic.team_code("a"),
                             status="cancelled"))
    assert (end.status_code, end.json["id"], end.json["status"]) == (200, online["id"], "cancelled")
    assert clinic.mine(again_headers, online["id"]).json["end_reason"] == "签约机构已撤销签约"


def test_a_push_before_the_person_registers_and_a_past_one(app, client, make):
    clinic = Clinic(app, client, make)
    number = person_id(901, "19520202")
    early = clinic.push(pushed(number, contract_no="QY-E", team_code=clinic.team_code("a")))
    assert early.status_code == 201
    past = clinic.push(pushed(number, contract_no="QY-P", starts_on="2020-01-01", ends_on="2021-01-01"))
    assert past.status_code == 201 and past.json["status"] == "expired"  # not a second contract in force
    headers = make.login()
    patient_id = make.patient(headers, 901, id_number=number, name="王建国")
    make.verify(headers, patient_id)
    mine = client.get(f"{API}/me/family/contracts", headers=headers).json["items"]
    assert [(c["contract_no"], c["status"], c["patient_id"]) for c in mine] == [
        ("QY-E", "active", patient_id), ("QY-P", "expired", patient_id)]


def test_unknown_codes_are_refused_and_nothing_is_stored(app, client, make):
    clinic = Clinic(app, client, make)
    _, _, person = clinic.resident()
    assert_refused(clinic.push(pushed(person["id_number"], team_code="NOPE")), 422, "unknown_team")
    assert_refused(clinic.push(pushed(person["id_number"], package_code="NOPE")), 422, "unknown_package")
    bad = clinic.push(pushed(person["id_number"], team_code="不是编码"))
    assert bad.status_code == 422 and "team_code" in bad.json["errors"]
    assert contracts_count(app) == 0
