"""Who reaches a contract: the patient's verified links and the members of its team. Another team of the same
clinic, another clinic, a nurse, a hospital's key and another account all get 404 (401 without a session); bad input
is a 422 in Chinese with a code, and nothing is stored."""
import sqlalchemy as sa

from patient_api.common.audit import AuditEntry
from patient_api.extensions import db

from .family import API, REGION, VILLAGE, Clinic, contracts_count
from .homecare import assert_refused

PLANS = {"plans": [{"kind": "blood_pressure", "interval_days": 30}]}


def staff_calls(contract_id):
    """(method, path, body) of every staff endpoint that takes a contract."""
    base = f"{API}/staff/family/contracts/{contract_id}"
    return [("get", base, None), ("post", f"{base}/accept", None), ("post", f"{base}/decline", {"reason": "名额已满"}),
            ("put", f"{base}/follow-up-plans", PLANS)]


def team_calls(team_id):
    base = f"{API}/staff/family/teams/{team_id}"
    return [("get", f"{base}/applications", None), ("get", f"{base}/roster", None),
            ("get", f"{base}/overdue-follow-ups", None)]


def resident_calls(contract_id):
    base = f"{API}/me/family/contracts/{contract_id}"
    return [("get", base, None), ("post", f"{base}/withdraw", None), ("post", f"{base}/renew", {}),
            ("post", f"{base}/end", {})]


def call(client, method, path, body, headers):
    return getattr(client, method)(path, headers=headers, **({"json": body} if body is not None else {}))


def test_other_teams_clinics_nurses_and_hospitals_get_404(app, client, make):
    clinic = Clinic(app, client, make)
    elsewhere = Clinic(app, client, make, code="XCWSY")
    nurse = clinic.hospital.staff(role="nurse", wards="")
    headers, patient_id, _ = clinic.resident()
    waiting = clinic.apply(headers, patient_id)
    signed_headers, signed_id, _ = clinic.resident()
    signed = clinic.signed(signed_headers, signed_id)
    before = contracts_count(app, status="applied"), contracts_count(app, status="active")

    for outsider in (clinic.staff_b, elsewhere.staff_a, nurse):  # another team, another clinic, not a member
        for contract in (waiting, signed):
            for method, path, body in staff_calls(contract["id"]):
                assert_refused(call(client, method, path, body, outsider), 404, "family_contract_not_found")
        for method, path, body in team_calls(clinic.team_a):
            assert_refused(call(client, method, path, body, outsider), 404, "family_team_not_found")
    assert client.get(f"{API}/staff/family/teams", headers=nurse).json["items"] == []
    assert [t["id"] for t in client.get(f"{API}/staff/family/teams", headers=clinic.staff_b).json["items"]] == [
        clinic.team_b]
    assert client.get(f"{API}/staff/family/teams/{clinic.team_b}/roster", headers=clinic.staff_b).json["items"] == []
    for method, path, body in staff_calls(signed["id"]) + team_calls(clinic.team_a):
        assert call(client, method, path, body, clinic.hospital.his).status_code == 401  # a hospital key
        assert call(client, method, path, body, {}).status_code == 401
        assert call(client, method, path, body, headers).status_code == 401  # a resident's token
    assert (contracts_count(app, status="applied"), contracts_count(app, status="active")) == before
    with app.app_context():
        denied = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "family.access_denied"))
    assert denied == 3 * 2 * 4  # every refused look at a contract is on record
    assert client.get(f"{API}/staff/family/contracts/{signed['id']}", headers=clinic.staff_a).status_code == 200


def test_other_accounts_and_unverified_links_reach_nothing(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    stranger, stranger_patient, _ = clinic.resident()
    for method, path, body in resident_calls(contract["id"]):
        assert_refused(call(client, method, path, body, stranger), 404, "family_contract_not_found")
        assert call(client, method, path, body, {}).status_code == 401
        assert call(client, method, path, body, clinic.staff_a).status_code == 401  # a staff token
    assert_refused(client.get(f"{API}/me/family/contracts", query_string={"patient_id": patient_id},
                              headers=stranger), 404, "patient_not_found")
    assert client.get(f"{API}/me/family/contracts", headers=stranger).json["items"] == []
    assert_refused(client.post(f"{API}/me/family/contracts", headers=stranger, json={
        "patient_id": patient_id, "team_id": clinic.team_b, "package_id": clinic.basic, "region_code": REGION,
        "community": VILLAGE}), 404, "patient_not_found")
    unverified, unverified_id, _ = clinic.resident(verified=False)
    assert_refused(client.post(f"{API}/me/family/contracts", headers=unverified, json={
        "patient_id": unverified_id, "team_id": clinic.team_a, "package_id": clinic.basic, "region_code": REGION,
        "community": VILLAGE}), 403, "verification_required")
    assert_refused(client.get(f"{API}/me/family/contracts", query_string={"patient_id": unverified_id},
                              headers=unverified), 403, "verification_required")
    assert clinic.mine(headers, contract["id"]).json["status"] == "active"
    assert contracts_count(app) == 1


def test_teams_and_packages_of_other_clinics_are_not_found(app, client, make):
    clinic = Clinic(app, client, make)
    elsewhere = Clinic(app, client, make, code="XCWSY")
    headers, patient_id, _ = clinic.resident()
    body = {"patient_id": patient_id, "team_id": clinic.team_a, "package_id": elsewhere.basic, "region_code": REGION,
            "community": VILLAGE}
    assert_refused(client.post(f"{API}/me/family/contracts", headers=headers, json=body), 404,
                   "family_package_not_found")
    assert_refused(client.post(f"{API}/me/family/contracts", headers=headers, json={
        **body, "team_id": "fmt_nosuchteam"}), 404, "family_team_not_found")
    assert_refused(client.get(f"{API}/family/teams/fmt_nosuchteam"), 404, "family_team_not_found")
    assert contracts_count(app) == 0


def test_bad_input_is_422_in_chinese_and_stores_nothing(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    good = {"patient_id": patient_id, "team_id": clinic.team_a, "package_id": clinic.basic, "region_code": REGION,
            "community": VILLAGE}
    for changes, field in (({"region_code": "3709"}, "region_code"), ({"community": ""}, "community"),
                           ({"community": "村" * 41}, "community"), ({"conditions": ["cancer"]}, "conditions"),
                           ({"conditions": ["diabetes", "diabetes"]}, "conditions"), ({"extra": 1}, "extra"),
                           ({"patient_id": "pat/../x"}, "patient_id"), ({"community": "范镇\x07村"}, "community"),
                           ({"team_id": None}, "team_id")):
        response = client.post(f"{API}/me/family/contracts", headers=headers, json={**good, **changes})
        assert_refused(response, 422, "validation_error")
        assert field in response.json["errors"], response.json
    missing = client.post(f"{API}/me/family/contracts", headers=headers, json={"patient_id": patient_id})
    assert_refused(missing, 422, "validation_error")
    assert {"team_id", "package_id", "region_code", "community"} <= set(missing.json["errors"])
    assert_refused(client.get(f"{API}/family/teams"), 422, "validation_error")
    assert_refused(client.get(f"{API}/family/teams", query_string={"region_code": "abc"}), 422, "validation_error")
    contract = clinic.apply(headers, patient_id)
    for body in ({}, {"reason": "x"}, {"reason": "原因" * 101}):
        assert_refused(client.post(f"{API}/staff/family/contracts/{contract['id']}/decline", headers=clinic.staff_a,
                                   json=body), 422, "validation_error")
    assert_refused(client.get(f"{API}/staff/family/teams/{clinic.team_a}/applications",
                              query_string={"status": "active"}, headers=clinic.staff_a), 422, "validation_error")
    assert_refused(clinic.mine(headers, contract["id"], "/end", "post", {"reason": ""}), 422, "validation_error")
    assert contracts_count(app) == 1 and clinic.mine(headers, contract["id"]).json["status"] == "applied"
