"""家庭医生签约 lifecycle: apply → accept | decline | withdraw; renew within 30 days of the end; end; expire. One
contract in force per person, whichever way it was signed."""
from datetime import date, timedelta

import sqlalchemy as sa

from patient_api.common.clock import now, today_local
from patient_api.extensions import db
from patient_api.family import contracts, jobs
from patient_api.records.models import FamilyDoctorContract

from .family import API, OTHER_VILLAGE, REGION, VILLAGE, Clinic, contracts_count, told
from .homecare import assert_refused


def age_on(year):
    """Age today of someone born on 1 January of `year`."""
    return today_local().year - year


def test_find_a_team_then_apply_accept_and_read_the_contract(app, client, make):
    clinic = Clinic(app, client, make)
    teams = client.get(f"{API}/family/teams", query_string={"region_code": REGION, "community": OTHER_VILLAGE}).json
    assert [t["id"] for t in teams["items"]] == [clinic.team_b]  # only team B covers 东故村
    both = client.get(f"{API}/family/teams", query_string={"region_code": REGION, "community": f" {VILLAGE} "}).json
    assert {t["id"] for t in both["items"]} == {clinic.team_a, clinic.team_b}
    detail = client.get(f"{API}/family/teams/{clinic.team_a}").json
    assert detail["remaining"] == 100 and detail["hospital_name"] == "测试医院FZWSY"
    assert [(m["name"], m["role_name"], m["is_lead"]) for m in detail["members"]] == [
        ("王立新", "家庭医生", True), ("赵海燕", "护士", False)]
    assert [(p["code"], p["price_fen"]) for p in detail["packages"]] == [("JC", 0), ("MB", 10000), ("LN", 12000)]
    assert detail["packages"][2]["eligibility"]["text"] == ["年满65周岁的居民"]

    headers, patient_id, _ = clinic.resident()
    applied = clinic.apply(headers, patient_id, package_id=clinic.chronic, conditions=["hypertension"])
    assert (applied["status"], applied["source"], applied["team_id"], applied["price_fen"]) == (
        "applied", "online", clinic.team_a, 10000)
    assert applied["contract_no"].startswith("WX") and applied["conditions"] == ["hypertension"]
    assert [dest for dest, _ in told(app, "family.applied", "staff_message")] == [clinic.staff_id(clinic.staff_a)]
    queue = client.get(f"{API}/staff/family/teams/{clinic.team_a}/applications", headers=clinic.staff_a).json
    assert [c["id"] for c in queue["items"]] == [applied["id"]] and queue["items"][0]["age"] == age_on(1986)

    accepted = clinic.staff_post(clinic.staff_a, applied["id"], "accept")
    assert accepted["status"] == "active" and accepted["starts_on"] == today_local().isoformat()
    assert accepted["ends_on"] == (today_local().replace(year=today_local().year + 1)
                                   - timedelta(days=1)).isoformat()
    assert [payload["family_contract_id"] for _, payload in told(app, "family.accepted")] == [applied["id"]]
    assert client.get(f"{API}/family/teams/{clinic.team_a}").json["remaining"] == 99
    mine = client.get(f"{API}/me/family/contracts", query_string={"patient_id": patient_id}, headers=headers).json
    assert [(c["id"], c["status"], c["renewable"]) for c in mine["items"]] == [(applied["id"], "active", False)]
    record = client.get(f"{API}/patients/{patient_id}/record", headers=headers).json["family_doctor"]
    assert (record["id"], record["doctor"], record["team"]) == (applied["id"], "王立新", "范镇卫生院家庭医生一团队")
    with app.app_context():
        assert contracts.signed_team(patient_id)["team_id"] == clinic.team_a
    assert client.get(f"{API}/staff/family/teams/{clinic.team_a}/applications",
                      headers=clinic.staff_a).json["items"] == []


def test_decline_withdraw_and_the_state_rules(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    first = clinic.apply(headers, patient_id)
    declined = clinic.staff_post(clinic.staff_a, first["id"], "decline", {"reason": "不在本团队服务范围内的常住人口"})
    assert (declined["status"], declined["decline_reason"]) == ("declined", "不在本团队服务范围内的常住人口")
    assert [p["reason"] for _, p in told(app, "family.declined")] == ["不在本团队服务范围内的常住人口"]
    assert_refused(client.post(f"{API}/staff/family/contracts/{first['id']}/accept", headers=clinic.staff_a),
                   409, "invalid_contract_state")
    assert_refused(clinic.mine(headers, first["id"], "/withdraw", "post"), 409, "invalid_contract_state")

    second = clinic.apply(headers, patient_id)  # declined before: may apply again
    assert_refused(client.post(f"{API}/me/family/contracts", headers=headers, json={
        "patient_id": patient_id, "team_id": clinic.team_a, "package_id": clinic.basic, "region_code": REGION,
        "community": VILLAGE}), 409, "already_applied")
    withdrawn = clinic.mine(headers, second["id"], "/withdraw", "post")
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    assert_refused(client.post(f"{API}/staff/family/contracts/{second['id']}/accept", headers=clinic.staff_a),
                   409, "invalid_contract_state")
    assert_refused(clinic.mine(headers, second["id"], "/end", "post", {}), 409, "invalid_contract_state")
    assert_refused(clinic.mine(headers, second["id"], "/renew", "post", {}), 409, "invalid_contract_state")
    statuses = client.get(f"{API}/staff/family/teams/{clinic.team_a}/applications",
                          query_string={"status": "withdrawn"}, headers=clinic.staff_a).json["items"]
    assert [c["id"] for c in statuses] == [second["id"]]


def test_one_contract_in_force_per_person(app, client, make):
    """Applying while signed is refused; two open applications to two teams: the first accepted wins, the other is
    withdrawn and cannot be accepted; ending frees the person to sign again."""
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    to_a = clinic.apply(headers, patient_id)
    to_b = clinic.apply(headers, patient_id, team_id=clinic.team_b)
    clinic.staff_post(clinic.staff_a, to_a["id"], "accept")
    assert clinic.mine(headers, to_b["id"]).json["status"] == "withdrawn"
    assert_refused(client.post(f"{API}/staff/family/contracts/{to_b['id']}/accept", headers=clinic.staff_b),
                   409, "already_signed")
    assert_refused(client.post(f"{API}/me/family/contracts", headers=headers, json={
        "patient_id": patient_id, "team_id": clinic.team_b, "package_id": clinic.basic, "region_code": REGION,
        "community": VILLAGE}), 409, "already_signed")
    assert contracts_count(app, status="active") == 1

    ended = clinic.mine(headers, to_a["id"], "/end", "post", {"reason": "搬家到城区居住"})
    assert (ended.json["status"], ended.json["end_reason"]) == ("ended", "搬家到城区居住")
    again = clinic.apply(headers, patient_id, team_id=clinic.team_b)
    assert clinic.staff_post(clinic.staff_b, again["id"], "accept")["status"] == "active"
    assert contracts_count(app, status="active") == 1


def test_the_database_refuses_a_second_active_contract(app, ctx):
    """Whatever the code checks, the partial unique index holds: a second active row for one person fails."""
    rows = [FamilyDoctorContract(person_index="p" * 64, hospital_id=None, contract_no=f"X{i}", team="一团队",
                                 doctor="王医生", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
                                 status=status) for i, status in enumerate(("active", "ended", "active"))]
    from patient_api.directory.models import Hospital
    hospital = Hospital(code="IDX", name="索引测试", level="一级")
    db.session.add(hospital)
    db.session.flush()
    for row in rows:
        row.hospital_id = hospital.id
    db.session.add_all(rows[:2])
    db.session.flush()
    db.session.add(rows[2])
    try:
        db.session.flush()
        raise AssertionError("a second active contract was stored")
    except sa.exc.IntegrityError:
        db.session.rollback()


def test_team_capacity(app, client, make):
    clinic = Clinic(app, client, make, capacity=1)
    first_headers, first, _ = clinic.resident()
    second_headers, second, _ = clinic.resident()
    waiting = clinic.apply(second_headers, second)
    clinic.signed(first_headers, first)
    assert client.get(f"{API}/family/teams/{clinic.team_a}").json["remaining"] == 0
    assert_refused(client.post(f"{API}/staff/family/contracts/{waiting['id']}/accept", headers=clinic.staff_a),
                   409, "team_full")
    assert_refused(client.post(f"{API}/me/family/contracts", headers=second_headers, json={
        "patient_id": second, "team_id": clinic.team_a, "package_id": clinic.basic, "region_code": REGION,
        "community": VILLAGE}), 409, "team_full")


def test_package_rules_and_covered_villages(app, client, make):
    clinic = Clinic(app, client, make)
    young, young_id, _ = clinic.resident()
    body = {"patient_id": young_id, "team_id": clinic.team_a, "package_id": clinic.elderly, "region_code": REGION,
            "community": VILLAGE}
    refused = client.post(f"{API}/me/family/contracts", headers=young, json=body)
    assert_refused(refused, 422, "not_eligible")
    assert "年满65周岁" in refused.json["message"] and "基础包" in refused.json["message"]
    assert_refused(client.post(f"{API}/me/family/contracts", headers=young, json={
        **body, "package_id": clinic.chronic}), 422, "not_eligible")
    assert_refused(client.post(f"{API}/me/family/contracts", headers=young, json={
        **body, "package_id": clinic.basic, "community": OTHER_VILLAGE}), 422, "area_not_covered")
    assert contracts_count(app) == 0
    old, old_id, _ = clinic.resident(born="19500101")
    assert clinic.apply(old, old_id, package_id=clinic.elderly)["package_name"] == "老年人服务包"
    assert clinic.apply(young, young_id, package_id=clinic.chronic, conditions=["diabetes"])["status"] == "applied"


def test_a_consented_proxy_applies_and_a_pending_one_cannot(app, client, make):
    clinic = Clinic(app, client, make)
    mother, patient_id, person = clinic.resident(born="19480305")
    daughter = make.login()
    added = client.post(f"{API}/me/patients", headers=daughter, json={**person, "phone": "13900139000",
                                                                        "relation": "parent"})
    assert added.json["link_status"] == "pending"
    assert_refused(client.post(f"{API}/me/family/contracts", headers=daughter, json={
        "patient_id": patient_id, "team_id": clinic.team_a, "package_id": clinic.elderly, "region_code": REGION,
        "community": VILLAGE}), 403, "verification_required")
    link_id = next(link["id"] for link in client.get(f"{API}/me/patients/{patient_id}/links",
                                                     headers=mother).json["items"] if not link["is_me"])
    assert client.post(f"{API}/me/patients/{patient_id}/links/{link_id}/approve", headers=mother).status_code == 200
    contract = clinic.apply(daughter, patient_id, package_id=clinic.elderly)
    clinic.staff_post(clinic.staff_a, contract["id"], "accept")
    seen = client.get(f"{API}/me/family/contracts/{contract['id']}", headers=mother)
    assert seen.status_code == 200 and seen.json["status"] == "active"
    assert len(told(app, "family.accepted")) == 2  # the person and the proxy who applied
    client.post(f"{API}/me/patients/{patient_id}/links/{link_id}/revoke", headers=mother)
    assert_refused(client.get(f"{API}/me/family/contracts/{contract['id']}", headers=daughter), 404,
                   "family_contract_not_found")


def test_renew_within_30_days_of_the_end(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    early = clinic.mine(headers, contract["id"], "/renew", "post", {})
    assert_refused(early, 409, "renewal_not_open")
    assert "年" in early.json["message"]
    with app.app_context():  # the term is nearly over
        row = db.session.get(FamilyDoctorContract, contract["id"])
        row.starts_on, row.ends_on = today_local() - timedelta(days=340), today_local() + timedelta(days=20)
        db.session.commit()
    assert clinic.mine(headers, contract["id"]).json["renewable"] is True
    renewed = clinic.mine(headers, contract["id"], "/renew", "post", {})
    assert renewed.status_code == 201, renewed.json
    new = renewed.json
    assert (new["status"], new["renewed_from_id"], new["team_id"]) == ("active", contract["id"], clinic.team_a)
    assert new["starts_on"] == today_local().isoformat()
    old_end = today_local() + timedelta(days=20)
    assert new["ends_on"] == contracts.term_end(old_end + timedelta(days=1)).isoformat()
    assert clinic.mine(headers, contract["id"]).json["status"] == "renewed"
    assert contracts_count(app, status="active") == 1
    assert client.get(f"{API}/family/teams/{clinic.team_a}").json["remaining"] == 99
    with app.app_context():
        assert contracts.signed_team(patient_id)["contract_id"] == new["id"]


def test_expiry_and_renewal_reminders_happen_once(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    with app.app_context():
        row = db.session.get(FamilyDoctorContract, contract["id"])
        row.ends_on = today_local() + timedelta(days=10)
        db.session.commit()
        assert jobs.remind_renewals() == 1 and jobs.remind_renewals() == 0
        later = now() + timedelta(days=11)
        assert jobs.expire(later) == 1 and jobs.expire(later) == 0
    assert len(told(app, "family.renewal_due")) == 1 and len(told(app, "family.expired")) == 1
    assert clinic.mine(headers, contract["id"]).json["status"] == "expired"
    assert client.get(f"{API}/patients/{patient_id}/record", headers=headers).json["family_doctor"] is None
    assert clinic.apply(headers, patient_id)["status"] == "applied"  # free to sign again


def test_demo_load_gives_the_township_clinic_two_teams_and_packages(app, client):
    from patient_api import demo
    with app.app_context():
        demo.load(days=0)
        demo.load(days=0)  # idempotent
    teams = client.get(f"{API}/family/teams", query_string={"region_code": "370911", "community": "范镇村"}).json
    assert [t["name"] for t in teams["items"]] == ["范镇卫生院家庭医生一团队", "范镇卫生院家庭医生二团队"]
    assert teams["items"][0]["hospital_name"] == "岱岳区范镇卫生院"
    detail = client.get(f"{API}/family/teams/{teams['items'][0]['id']}").json
    assert [p["name"] for p in detail["packages"]] == ["基础包", "儿童服务包", "慢病服务包", "老年人服务包",
                                                      "孕产妇服务包"]
    assert detail["packages"][0]["price_fen"] == 0 and detail["members"][0]["title"] == "全科主治医师"


def test_the_cli_puts_a_staff_account_in_a_team(app, client, make):
    from patient_api.common import events
    clinic = Clinic(app, client, make)
    runner = app.test_cli_runner()
    for username, role in (("fz-doctor", "family_team"), ("fz-nurse", "nurse")):
        created = runner.invoke(args=["staff", "create", "--hospital", clinic.code, "--username", username,
                                      "--password", "team-A-2026-secure", "--role", role])
        assert created.exit_code == 0, created.output
    added = runner.invoke(args=["family", "add-member", "--hospital", clinic.code, "--team", clinic.team_code("a"),
                                "--name", "孙文博", "--member-role", "doctor", "--username", "fz-doctor"])
    assert added.exit_code == 0 and "added doctor 孙文博" in added.output, added.output
    refused = runner.invoke(args=["family", "add-member", "--hospital", clinic.code, "--team", clinic.team_code("a"),
                                  "--name", "周丽华", "--member-role", "nurse", "--username", "fz-nurse"])
    assert refused.exit_code != 0 and "family_team" in refused.output
    login = client.post(f"{API}/staff/auth/login", json={"username": "fz-doctor", "password": "team-A-2026-secure"})
    headers = {"Authorization": f"Bearer {login.json['token']}"}
    assert [t["id"] for t in client.get(f"{API}/staff/family/teams", headers=headers).json["items"]] == [
        clinic.team_a]
    listed = runner.invoke(args=["family", "teams", "--hospital", clinic.code])
    assert listed.exit_code == 0 and '"remaining": 100' in listed.output
    assert runner.invoke(args=["family", "upkeep"]).exit_code == 0
    assert events.subscribers("vital.recorded") == ["patient_api.family.followups.reading_recorded"]
    assert events.subscribers("family.contract_changed") == [
        "patient_api.integration.webhooks.family_contract_changed"]


def test_applying_twice_with_one_idempotency_key_applies_once(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    keyed = {**headers, "Idempotency-Key": "family-apply-1"}
    body = {"patient_id": patient_id, "team_id": clinic.team_a, "package_id": clinic.basic, "region_code": REGION,
            "community": VILLAGE}
    first = client.post(f"{API}/me/family/contracts", headers=keyed, json=body)
    again = client.post(f"{API}/me/family/contracts", headers=keyed, json=body)
    assert (first.status_code, again.status_code, again.json["id"]) == (201, 201, first.json["id"])
    assert again.headers.get("Idempotent-Replayed") == "true" and contracts_count(app) == 1
