"""Who may use each 双向转诊 endpoint: referrers and admins of the two hospitals; other hospitals 404, other roles
403 role_forbidden, no session 401; residents only their verified patients' referrals (another account 404)."""
import pytest

from .pools import refused
from .referrals import API, CITY, CITY2, CLINIC, CLINIC2, World, counts, staff


@pytest.fixture
def w(app, client, make):
    world = World(app, client, make)
    world.up_ref = world.send(world.up())
    return world


def endpoints(w):
    """(method, path, body) of every staff endpoint."""
    ref = w.up_ref["id"]
    return [("post", "/staff/referrals/patient", {"id_number": w.id_number}),
            ("get", "/staff/referrals/destinations?direction=up", None),
            ("get", f"/staff/referrals/tickets?hospital_id={w.hospital_id(CITY)}", None),
            ("get", "/staff/referrals?box=incoming", None),
            ("post", "/staff/referrals", w.up(schedule_id=None)),
            ("get", f"/staff/referrals/{ref}", None),
            ("post", f"/staff/referrals/{ref}/booking", {"schedule_id": w.schedule_id}),
            ("post", f"/staff/referrals/{ref}/receive", None),
            ("post", f"/staff/referrals/{ref}/accept", None),
            ("post", f"/staff/referrals/{ref}/decline", {"reason": "不收"}),
            ("post", f"/staff/referrals/{ref}/cancel", {"reason": "不转"}),
            ("post", f"/staff/referrals/{ref}/complete", None),
            ("get", f"/staff/referrals/{ref}/reports/{w.reports[0]}", None)]


def call(w, method, path, body, headers):
    return getattr(w.client, method)(f"{API}{path}", headers=headers, **({"json": body} if body is not None else {}))


@pytest.mark.parametrize("role", ["nurse", "cashier", "registrar", "dispatcher", "family_team"])
def test_other_roles_are_forbidden_everywhere(app, client, w, role):
    for code in (CLINIC, CITY):
        headers = staff(app, client, code, role=role)
        for method, path, body in endpoints(w):
            refused(call(w, method, path, body, headers), 403, "role_forbidden")
    assert counts(app)[0] == 1


def test_no_session_is_401_everywhere(app, w):
    for method, path, body in endpoints(w):
        assert call(w, method, path, body, {}).status_code == 401, path


@pytest.mark.parametrize("code", [CLINIC2, CITY2])
def test_another_hospital_sees_no_referral(app, client, w, code):
    headers = staff(app, client, code)
    for method, path, body in endpoints(w)[5:]:
        refused(call(w, method, path, body, headers), 404, "referral_not_found")
    assert client.get(f"{API}/staff/referrals?box=incoming", headers=headers).json["items"] == []
    assert client.get(f"{API}/staff/referrals?box=outgoing", headers=headers).json["items"] == []
    refused(client.get(f"{API}/staff/referrals/ref_doesnotexist", headers=headers), 404, "referral_not_found")


def test_an_admin_may_do_what_a_referrer_may_at_its_hospital(app, client, w):
    admin = staff(app, client, CITY, role="admin", name=None)
    assert client.get(f"{API}/staff/referrals/{w.up_ref['id']}", headers=admin).status_code == 200
    received = w.step(admin, w.up_ref["id"], "receive")
    assert received["history"][-1]["by"].startswith("泰安市中心医院 ref")  # no name given: the login name
    read = client.get(f"{API}/staff/referrals/{w.up_ref['id']}/reports/{w.reports[1]}", headers=admin)
    assert read.status_code == 200


def test_only_shared_reports_are_readable(app, client, w):
    unshared = w.report(CLINIC, "胸片")
    for report_id in (unshared, w.city_report, "rpt_nope"):
        refused(client.get(f"{API}/staff/referrals/{w.up_ref['id']}/reports/{report_id}", headers=w.city), 404,
                "report_not_found")


def test_lookup_shows_only_the_own_hospitals_reports(app, client, w):
    found = client.post(f"{API}/staff/referrals/patient", json={"id_number": w.id_number}, headers=w.city).json
    assert [r["id"] for r in found["reports"]] == [w.city_report]


def test_residents_see_only_their_verified_patients_referrals(app, client, make, w):
    stranger, stranger_patient, _ = w.resident()
    refused(client.get(f"{API}/me/referrals/{w.up_ref['id']}", headers=stranger), 404, "referral_not_found")
    assert client.get(f"{API}/me/referrals", headers=stranger).json["items"] == []
    refused(client.get(f"{API}/me/referrals?patient_id={w.patient_id}", headers=stranger), 404, "patient_not_found")
    # Someone who typed the ID number (a claimed link) may not read clinical news of it.
    claimer = make.login()
    added = client.post(f"{API}/me/patients", json={"name": "某某", "id_number": w.id_number, "relation": "child"},
                        headers=claimer)
    assert added.status_code == 201 and added.json["link_status"] != "verified", added.json
    refused(client.get(f"{API}/me/referrals/{w.up_ref['id']}", headers=claimer), 403, "verification_required")
    refused(client.get(f"{API}/me/referrals?patient_id={w.patient_id}", headers=claimer), 403,
            "verification_required")
    assert client.get(f"{API}/me/referrals", headers=w.city).status_code == 401  # a staff token is no resident's
    assert client.get(f"{API}/me/referrals", headers={}).status_code == 401
    mine = client.get(f"{API}/me/referrals", headers=w.headers).json["items"]
    assert [r["id"] for r in mine] == [w.up_ref["id"]]
    refused(client.get(f"{API}/me/referrals?patient_id={stranger_patient}", headers=w.headers), 404,
            "patient_not_found")


def test_lookups_are_rate_limited_per_staff_member(app, client, w, monkeypatch):
    from .factories import freeze_rate_window
    freeze_rate_window(monkeypatch)
    monkeypatch.setitem(app.config, "REFERRAL_LOOKUP_LIMIT", 2)
    for _ in range(2):
        assert client.post(f"{API}/staff/referrals/patient", json={"id_number": w.id_number},
                           headers=w.clinic).status_code == 200
    refused(client.post(f"{API}/staff/referrals/patient", json={"id_number": w.id_number}, headers=w.clinic), 429,
            "rate_limited")
    assert client.post(f"{API}/staff/referrals/patient", json={"id_number": w.id_number},
                       headers=w.city).status_code == 200
