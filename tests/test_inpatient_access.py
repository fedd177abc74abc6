"""Who may see and act on an admission (wards, hospitals, roles, family links) and the deposit rules."""
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from patient_api.accounts.staff import Staff
from patient_api.billing import jobs
from patient_api.billing.models import Bill
from patient_api.common.audit import AuditEntry
from patient_api.common.clock import now, today_local
from patient_api.extensions import db
from patient_api.inpatient.models import Admission, Settlement

from .inpatient import Hospital, in_db, line

STAFF = "/api/v1/staff/admissions/{id}"
STAFF_CALLS = [("get", ""), ("get", "/daily-charges"), ("post", "/discharge-review"), ("post", "/pre-settlement"),
               ("post", "/settle"), ("post", "/settlement/payment"), ("get", "/receipt")]
RESIDENT_CALLS = [("get", ""), ("get", "/daily-charges"), ("post", "/deposits"), ("get", "/settlement")]


@pytest.fixture
def stay(app, client, make):
    """H1 with a W2 admission ready for review: charges, a paid deposit, orders complete, discharge ordered."""
    h = Hospital(app, client, make)
    family, patient_id, person = h.resident()
    admission = h.admit(person, ward="W2", bed="7")
    no = admission["admission_no"]
    h.charges(no, [line("A-1", today_local() - timedelta(days=1))])
    h.paid_deposit(family, admission["id"], 50_000)
    h.signal(no, "orders-complete")
    h.signal(no, "discharge-order")
    return SimpleNamespace(h=h, family=family, patient_id=patient_id, person=person, id=admission["id"], no=no)


def call(client, stay, verb, suffix, headers, base=STAFF):
    """Call one admission endpoint with a body that would be valid."""
    body = {"amount_fen": 10_000, "method": "wechat_jsapi"} if suffix == "/deposits" else {}
    if suffix == "/settlement/payment":
        body = {"method": "wechat_native"}
    url = base.format(id=stay.id) + suffix
    return client.get(url, headers=headers) if verb == "get" else client.post(url, json=body, headers=headers)


def refused(response, status, code):
    """The response is that error."""
    assert (response.status_code, response.json["code"]) == (status, code), response.json


def state(app, admission_id):
    """(status, settlements, bills, audit rows other than refused looks) of one admission."""
    def read():
        count = lambda model, *where: db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))  # noqa: E731
        return (db.session.get(Admission, admission_id).status, count(Settlement),
                count(Bill, Bill.admission_id == admission_id),
                count(AuditEntry, AuditEntry.action.not_like("%access_denied")))
    return in_db(app, read)


def denials(app):
    """Refused looks on record: [(action, resource)]."""
    return in_db(app, lambda: db.session.execute(sa.select(AuditEntry.action, AuditEntry.resource).where(
        AuditEntry.action.like("%access_denied")).order_by(AuditEntry.id)).all())


def staff_id(app, username):
    """The id of a staff account."""
    return in_db(app, lambda: db.session.scalars(sa.select(Staff.id).filter_by(username=username)).one())


def test_nurse_of_another_ward_sees_and_changes_nothing(app, client, stay):
    """A W1 nurse: 403 ward_forbidden on W2's list, 404 on every endpoint of the W2 admission, nothing changed."""
    nurse = stay.h.staff(wards="W1")
    before = state(app, stay.id)
    refused(client.get("/api/v1/staff/wards/W2/admissions", headers=nurse), 403, "ward_forbidden")
    for verb, suffix in STAFF_CALLS:
        response = call(client, stay, verb, suffix, nurse)
        refused(response, 404, "admission_not_found")
        assert stay.person["name"] not in response.get_data(as_text=True)
    assert state(app, stay.id) == before == ("discharge_ordered", 0, 1, before[3])
    assert denials(app) == [("ward.access_denied", "W2")] + [("admission.access_denied", stay.id)] * 7
    own_ward = client.get("/api/v1/staff/wards/W1/admissions", headers=nurse)
    assert (own_ward.status_code, own_ward.json["items"]) == (200, [])


def test_nurse_of_another_hospital_with_the_same_ward_code_gets_404(app, client, make, stay):
    """H2's W2 nurse: H2's W2 list is empty and every endpoint of H1's admission is 404."""
    nurse = Hospital(app, client, make, code="H2").staff(wards="W2")
    ward = client.get("/api/v1/staff/wards/W2/admissions", headers=nurse)
    assert (ward.status_code, ward.json["items"]) == (200, [])
    before = state(app, stay.id)
    for verb, suffix in STAFF_CALLS:
        refused(call(client, stay, verb, suffix, nurse), 404, "admission_not_found")
    assert state(app, stay.id) == before


def test_admin_sees_every_ward_and_cashier_cannot_review(app, client, stay):
    """An admin (scoped to W1) lists and reviews W2; a W2 cashier gets 403 role_forbidden for the review."""
    cashier = stay.h.staff(wards="W2", role="cashier")
    before = state(app, stay.id)
    refused(call(client, stay, "post", "/discharge-review", cashier), 403, "role_forbidden")
    assert state(app, stay.id) == before
    admin = stay.h.staff(wards="W1", role="admin")
    ward = client.get("/api/v1/staff/wards/W2/admissions", headers=admin).json["items"]
    assert [(a["id"], a["bed_no"]) for a in ward] == [(stay.id, "7")]
    assert client.get("/api/v1/staff/wards/W9/admissions", headers=admin).json["items"] == []
    reviewed = call(client, stay, "post", "/discharge-review", admin)
    assert (reviewed.status_code, reviewed.json["status"]) == (200, "reviewed")
    assert denials(app) == []


def test_each_staff_action_is_audited_once(app, client, stay):
    """View, daily list, review, pre-settlement, settle, receipt: one row each naming actor, patient, admission."""
    nurse = stay.h.staff(wards="W2", username="nurse-w2")
    mark = in_db(app, lambda: db.session.scalar(sa.select(sa.func.max(AuditEntry.id))))
    for verb, suffix in STAFF_CALLS[:5] + STAFF_CALLS[6:]:
        assert call(client, stay, verb, suffix, nurse).status_code == 200, suffix
    rows = in_db(app, lambda: db.session.execute(sa.select(
        AuditEntry.actor_type, AuditEntry.actor_id, AuditEntry.action, AuditEntry.patient_id, AuditEntry.resource)
        .where(AuditEntry.id > mark, AuditEntry.action.not_like("staff.%")).order_by(AuditEntry.id)).all())
    who = ("staff", staff_id(app, "nurse-w2"))
    assert [tuple(r) for r in rows] == [(*who, action, stay.patient_id, stay.id) for action in (
        "admission.view", "admission.daily_charges", "admission.review", "admission.pre_settlement",
        "admission.settle", "settlement.receipt")]


def test_another_account_gets_404_everywhere(app, client, stay):
    """A stranger: 404 on the admission, its list, deposits, settlement; 404 patient_not_found on the filter."""
    stranger, _, _ = stay.h.resident()
    before = state(app, stay.id)
    for verb, suffix in RESIDENT_CALLS:
        refused(call(client, stay, verb, suffix, stranger, base="/api/v1/admissions/{id}"), 404,
                "admission_not_found")
    refused(client.get(f"/api/v1/admissions?patient_id={stay.patient_id}", headers=stranger), 404,
            "patient_not_found")
    assert client.get("/api/v1/admissions", headers=stranger).json["items"] == []
    assert state(app, stay.id) == before


def test_family_member_of_the_same_patient_sees_the_admission(app, client, make, stay):
    """A second account adding the same person waits for their consent, then sees the stay; others' stays stay
    hidden."""
    relative = make.login()
    added = client.post("/api/v1/me/patients", headers=relative, json={
        **stay.person, "phone": "13900139000", "relation": "child"})
    assert (added.status_code, added.json["id"], added.json["link_status"]) == (201, stay.patient_id, "pending")
    link_id = next(link["id"] for link in client.get(f"/api/v1/me/patients/{stay.patient_id}/links",
                                                     headers=stay.family).json["items"] if not link["is_me"])
    assert client.post(f"/api/v1/me/patients/{stay.patient_id}/links/{link_id}/approve",
                       headers=stay.family).status_code == 200
    other_family, other_patient, other_person = stay.h.resident()
    other = stay.h.admit(other_person, ward="W1")
    for headers, expected in ((relative, stay.id), (stay.family, stay.id), (other_family, other["id"])):
        assert [a["id"] for a in client.get("/api/v1/admissions", headers=headers).json["items"]] == [expected]
    mine = client.get(f"/api/v1/admissions?patient_id={stay.patient_id}", headers=relative)
    assert [a["id"] for a in mine.json["items"]] == [stay.id]
    assert client.get(f"/api/v1/admissions/{stay.id}/daily-charges", headers=relative).status_code == 200
    refused(client.get(f"/api/v1/admissions/{other['id']}", headers=relative), 404, "admission_not_found")


@pytest.mark.parametrize("calls, base, listing", [
    (RESIDENT_CALLS, "/api/v1/admissions/{id}", "/api/v1/admissions"),
    (STAFF_CALLS, STAFF, "/api/v1/staff/wards/W2/admissions")])
def test_wrong_kind_of_token_or_none_is_401(app, client, stay, calls, base, listing):
    """Staff tokens on resident endpoints and resident tokens on staff ones: 401; no token: 401 unauthorized."""
    wrong = stay.h.staff(wards="W2") if base != STAFF else stay.family
    before = state(app, stay.id)
    for verb, suffix in calls:
        refused(call(client, stay, verb, suffix, wrong, base=base), 401, "session_expired")
        refused(call(client, stay, verb, suffix, {}, base=base), 401, "unauthorized")
    refused(client.get(listing, headers=wrong), 401, "session_expired")
    refused(client.get(listing), 401, "unauthorized")
    assert state(app, stay.id) == before


@pytest.mark.parametrize("url", ["/api/v1/staff/admissions/{id}/daily-charges?date=2026-02-30",
                                 "/api/v1/admissions/{id}/daily-charges?date=2026-02-30"])
def test_no_token_is_401_before_the_input_is_read(client, stay, url):
    """Without a session the answer is 401, not a 422 about the query or body."""
    refused(client.get(url.format(id=stay.id)), 401, "unauthorized")
    refused(client.post(f"{STAFF.format(id=stay.id)}/settlement/payment", json={"method": "cash"}), 401,
            "unauthorized")


def deposit_bills(app, admission_id):
    """{bill status: count} of the admission's deposit bills."""
    rows = in_db(app, lambda: db.session.execute(sa.select(Bill.status, sa.func.count()).where(
        Bill.admission_id == admission_id, Bill.kind == "inpatient_deposit").group_by(Bill.status)).all())
    return dict(rows)


def test_cap_counts_paid_deposits_and_orders_in_flight(app, client, stay):
    """50,000 paid + 900,000 being paid: 50,001 more is 409 deposit_cap_exceeded, exactly 50,000 is accepted."""
    assert stay.h.deposit(stay.family, stay.id, 900_000).status_code == 201
    refused(stay.h.deposit(stay.family, stay.id, 50_001), 409, "deposit_cap_exceeded")
    assert deposit_bills(app, stay.id) == {"paid": 1, "paying": 1}
    assert stay.h.deposit(stay.family, stay.id, 50_000).status_code == 201
    refused(stay.h.deposit(stay.family, stay.id, 1), 409, "deposit_cap_exceeded")


def test_abandoned_top_up_does_not_block(app, client, stay):
    """A top-up whose order lapsed unpaid is closed on the next attempt and no longer counts."""
    assert stay.h.deposit(stay.family, stay.id, 950_000).status_code == 201
    refused(stay.h.deposit(stay.family, stay.id, 10_000), 409, "deposit_cap_exceeded")
    with app.app_context():
        assert jobs.query_payments(instant=now() + timedelta(minutes=31)) == {"closed": 1}
    assert stay.h.deposit(stay.family, stay.id, 940_000).status_code == 201
    assert deposit_bills(app, stay.id) == {"paid": 1, "closed": 1, "paying": 1}


def test_the_same_top_up_again_pays_the_open_bill(app, client, stay):
    """A retry of the same amount (say WeChat failed the first time) reuses the open deposit bill."""
    first = stay.h.deposit(stay.family, stay.id, 50_000).json
    again = stay.h.deposit(stay.family, stay.id, 50_000).json
    assert again["bill"]["id"] == first["bill"]["id"]
    assert again["payment"]["payment_id"] == first["payment"]["payment_id"]
    assert deposit_bills(app, stay.id) == {"paid": 1, "paying": 1}


@pytest.mark.parametrize("amount", [0, -100, 100.5, 10_000.0, "10000", True, 100_000_001, None])
def test_bad_deposit_amount_is_422(app, client, stay, amount):
    """Zero, negative, float, string, boolean, over 100,000,000 or null: 422 naming amount_fen, no bill."""
    response = client.post(f"/api/v1/admissions/{stay.id}/deposits", headers=stay.family,
                           json={"amount_fen": amount, "method": "wechat_jsapi"})
    refused(response, 422, "validation_error")
    assert list(response.json["errors"]) == ["amount_fen"]
    assert deposit_bills(app, stay.id) == {"paid": 1}


def test_deposit_after_settlement_is_closed(app, client, stay):
    """Once settled, a top-up is 409 admission_closed and creates no bill."""
    nurse = stay.h.staff(wards="W2")
    for suffix in ("/discharge-review", "/settle"):
        assert call(client, stay, "post", suffix, nurse).status_code == 200
    refused(stay.h.deposit(stay.family, stay.id, 10_000), 409, "admission_closed")
    assert deposit_bills(app, stay.id) == {"paid": 1}


def test_idempotency_key_replays_the_deposit(app, client, stay):
    """Same key and body: the same 201 body and one bill; same key, other amount: 422 idempotency_key_reused."""
    keyed = {**stay.family, "Idempotency-Key": "topup-0001"}
    body = {"amount_fen": 20_000, "method": "wechat_jsapi"}
    first = client.post(f"/api/v1/admissions/{stay.id}/deposits", json=body, headers=keyed)
    again = client.post(f"/api/v1/admissions/{stay.id}/deposits", json=body, headers=keyed)
    assert (first.status_code, again.status_code, again.json) == (201, 201, first.json)
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post(f"/api/v1/admissions/{stay.id}/deposits", json={**body, "amount_fen": 30_000}, headers=keyed)
    refused(other, 422, "idempotency_key_reused")
    assert deposit_bills(app, stay.id) == {"paid": 1, "paying": 1}
