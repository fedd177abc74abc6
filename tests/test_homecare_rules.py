"""互联网+护理 rules: cancellation fees at their boundaries, the lapse and overdue-visit alerts (exactly once), and
bad input of every kind answered in Chinese with a code, storing nothing."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from patient_api.common.clock import now
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db
from patient_api.homecare import fees, jobs, notices
from patient_api.homecare.models import HomecareAlert, HomecareOrder
from patient_api.homecare.notices import STAFF_CHANNEL

from .homecare import Homecare, assert_refused, orders_count, request_body, service_body, told
from .inpatient import NOTIFY


@pytest.fixture
def care(app, client, make):
    return Homecare(app, client, make)


def _cancel(client, headers, order_id):
    return client.post(f"/api/v1/me/homecare/orders/{order_id}/cancel", headers=headers)


def test_cancelling_is_free_until_the_deadline_then_costs_the_travel_fee(app, client, care):
    headers, patient_id = care.resident()
    early = care.accepted(headers, patient_id, hours_ahead=24 + 1 / 6)  # deadline in 10 minutes
    assert early["free_cancel_until"] and early["cancel_fee_now_fen"] == 0  # the screen says so before confirming
    cancelled = _cancel(client, headers, early["id"]).json
    assert cancelled["status"] == "cancelled" and cancelled["cancel_fee_fen"] == 0 and cancelled["bill_id"] is None

    late = care.accepted(headers, patient_id, hours_ahead=24 - 1 / 6)  # deadline 10 minutes ago
    assert client.get(f"/api/v1/me/homecare/orders/{late['id']}", headers=headers).json["cancel_fee_now_fen"] == 3000
    charged = _cancel(client, headers, late["id"]).json
    assert charged["cancel_fee_fen"] == 3000 and charged["bill_id"]
    bill = client.get(f"/api/v1/bills/{charged['bill_id']}", headers=headers).json
    assert bill["kind"] == "homecare" and bill["total_fen"] == 3000
    assert [i["code"] for i in bill["items"]] == ["HC-CANCEL"]
    pay = client.post(f"/api/v1/bills/{charged['bill_id']}/payments", json={"method": "wechat_native"},
                      headers=headers).json
    wire = care.hospital.pay_at_wechat(pay["out_trade_no"])
    assert client.post(NOTIFY, data=wire[1], headers=wire[0]).status_code == 204
    assert client.get(f"/api/v1/bills/{charged['bill_id']}", headers=headers).json["status"] == "paid"
    assert sorted(e for _, e in told(app, late["id"], STAFF_CHANNEL)) == [
        "homecare.assigned", "homecare.cancelled", "homecare.requested"]  # the nurse hears it is off

    assert_refused(_cancel(client, headers, late["id"]), 409, "order_closed")
    unassigned = care.request(headers, patient_id, hours_ahead=2)  # within the deadline, but nobody assigned yet
    assert unassigned["cancel_fee_now_fen"] == 0
    assert _cancel(client, headers, unassigned["id"]).json["cancel_fee_fen"] == 0
    visiting = care.in_visit(headers, patient_id)
    assert visiting["cancel_fee_now_fen"] is None
    assert_refused(_cancel(client, headers, visiting["id"]), 409, "not_cancellable")


def test_the_fee_boundary_to_the_microsecond_and_a_configured_fee(app, care, client, monkeypatch):
    headers, patient_id = care.resident()
    order_id = care.accepted(headers, patient_id)["id"]
    with app.app_context():
        order = db.session.get(HomecareOrder, order_id)
        deadline = order.window_start - timedelta(hours=24)
        assert fees.free_cancel_until(order) == deadline
        assert fees.cancel_fee_fen(order, deadline) == 0
        assert fees.cancel_fee_fen(order, deadline + timedelta(microseconds=1)) == 3000
        monkeypatch.setitem(app.config, "HOMECARE_CANCEL_FEE", "1500")
        assert fees.cancel_fee_fen(order, deadline + timedelta(microseconds=1)) == 1500
        monkeypatch.setitem(app.config, "HOMECARE_FREE_CANCEL_HOURS", 0)
        assert fees.cancel_fee_fen(order, order.window_start) == 0
        assert fees.cancel_fee_fen(order, order.window_start + timedelta(seconds=1)) == 1500


def test_a_request_nobody_reviews_lapses_once(app, client, care):
    second = care.hospital.staff(role="dispatcher", wards="")
    headers, patient_id = care.resident()
    order = care.request(headers, patient_id)
    with app.app_context():
        due = db.session.get(HomecareOrder, order["id"]).review_due_at
        assert jobs.lapse_requests(due) == 0  # at the deadline it is still open
    late = care.staff_post(care.dispatcher, order["id"], "assign", {"nurse_id": care.nurse_id}, expect=200)
    assert late["status"] == "assigned"  # reviewed in time: never lapses

    headers, patient_id = care.resident()
    other = care.request(headers, patient_id, hours_ahead=72, distance_band=None, condition="压疮护理需要评估")
    with app.app_context():
        due = db.session.get(HomecareOrder, other["id"]).review_due_at
    with app.app_context():
        assert jobs.lapse_requests(due + timedelta(seconds=1)) == 1
        assert jobs.lapse_requests(due + timedelta(minutes=5)) == 0  # the second run finds nothing
    body = client.get(f"/api/v1/me/homecare/orders/{other['id']}", headers=headers).json
    assert body["status"] == "lapsed" and body["lapsed_at"]
    assert [e for _, e in told(app, other["id"])] == ["homecare.lapsed"]
    dispatchers = sorted([care.staff_id(care.dispatcher), care.staff_id(second)])
    assert sorted(d for d, e in told(app, other["id"], STAFF_CHANNEL) if e == "homecare.review_lapsed") == dispatchers
    alerts = client.get("/api/v1/staff/homecare/alerts", headers=second).json["items"]
    assert [(a["kind"], a["order_id"]) for a in alerts] == [("review_lapsed", other["id"])]
    assert_refused(client.post(f"/api/v1/staff/homecare/orders/{other['id']}/assign",
                               json={"nurse_id": care.nurse_id}, headers=care.dispatcher), 409, "invalid_order_state")


def test_past_the_deadline_a_dispatcher_cannot_decide_even_before_the_job(app, client, care):
    headers, patient_id = care.resident()
    order = care.request(headers, patient_id)
    with app.app_context():
        db.session.execute(sa.update(HomecareOrder).values(review_due_at=now() - timedelta(seconds=1)))
        db.session.commit()
    assert_refused(client.post(f"/api/v1/staff/homecare/orders/{order['id']}/decline", json={"reason": "人手不足"},
                               headers=care.dispatcher), 409, "request_lapsed")


def test_a_declined_request_tells_the_family_why(app, client, care):
    headers, patient_id = care.resident()
    order = care.request(headers, patient_id)
    declined = care.staff_post(care.dispatcher, order["id"], "decline", {"reason": "该时段护士已约满，请改约其他时间"})
    assert declined["status"] == "declined" and declined["decline_reason"] == "该时段护士已约满，请改约其他时间"
    assert [e for _, e in told(app, order["id"])] == ["homecare.declined"]
    with app.app_context():
        assert jobs.lapse_requests(now() + timedelta(days=1)) == 0


def test_a_visit_without_check_out_alerts_the_dispatchers_once(app, client, care):
    headers, patient_id = care.resident()
    order = care.in_visit(headers, patient_id)
    with app.app_context():
        checked_in = db.session.get(HomecareOrder, order["id"]).checked_in_at
        assert jobs.alert_overdue_visits(checked_in + timedelta(hours=4)) == 0  # exactly at the limit: not yet
        assert jobs.alert_overdue_visits(checked_in + timedelta(hours=4, seconds=1)) == 1
        assert jobs.alert_overdue_visits(checked_in + timedelta(hours=9)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(HomecareAlert)) == 1
    assert told(app, order["id"], STAFF_CHANNEL).count((care.staff_id(care.dispatcher), "homecare.visit_overdue")) == 1
    alerts = client.get("/api/v1/staff/homecare/alerts?open=true", headers=care.dispatcher).json
    assert [(a["kind"], a["order_id"]) for a in alerts["items"]] == [("visit_overdue", order["id"])]
    with app.app_context():
        assert notices.deliver()[0] >= 1  # staff messages are marked delivered by the worker
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.channel == STAFF_CHANNEL, OutboxMessage.status == "pending")) == 0


def _refused_and_nothing_stored(app, response, status, code):
    assert_refused(response, status, code)
    assert orders_count(app) == 0


@pytest.mark.parametrize("changes, status, code", [
    ({"area_code": "110101"}, 422, "area_not_covered"),
    ({"distance_band": "Z"}, 422, "unknown_distance_band"),
    ({"mobility": "independent"}, 422, "not_eligible"),  # 40 years old, not discharged, walks
    ({"hours_ahead": -1}, 422, "invalid_window"),
    ({"hours_ahead": 24 * 31}, 422, "invalid_window"),
    ({"service_id": "hcs_nope"}, 404, "homecare_service_not_found"),
    ({"patient_id": "pat_nope"}, 404, "patient_not_found"),
    ({"shared_record": {"kind": "report", "id": "rpt_nope", "consent": True}}, 404, "shared_record_not_found"),
    ({"shared_record": {"kind": "admission", "id": "adm_nope", "consent": False}}, 422, "consent_required"),
    ({"contact_phone": "12345"}, 422, "validation_error"),
    ({"area_code": "37090"}, 422, "validation_error"),
    ({"address": "泰安"}, 422, "validation_error"),
    ({"condition": ""}, 422, "validation_error"),
    ({"mobility": "flying"}, 422, "validation_error"),
    ({"window_start": "tomorrow"}, 422, "validation_error"),
    ({"shared_record": {"kind": "xray", "id": "x"}}, 422, "validation_error"),
    ({"admin": True}, 422, "validation_error"),
    ({"shared_record": {"kind": "report", "id": "rpt_x", "consent": 1}}, 422, "validation_error"),  # not a boolean
])
def test_bad_requests_are_refused_in_chinese_and_store_nothing(app, client, care, changes, status, code):
    headers, patient_id = care.resident()
    changes = dict(changes)
    body = {**request_body(care.service["id"], patient_id, hours_ahead=changes.pop("hours_ahead", 48)), **changes}
    _refused_and_nothing_stored(app, client.post("/api/v1/me/homecare/orders", json=body, headers=headers),
                                status, code)


def test_request_refusals_that_need_a_setup(app, client, care, make):
    headers, patient_id = care.resident()
    body = request_body(care.service["id"], patient_id)
    short = {**body, "window_end": body["window_start"]}
    _refused_and_nothing_stored(app, client.post("/api/v1/me/homecare/orders", json=short, headers=headers), 422,
                                "invalid_window")
    unverified, claimed = care.resident(verified=False)
    _refused_and_nothing_stored(app, client.post("/api/v1/me/homecare/orders", headers=unverified, json=request_body(
        care.service["id"], claimed)), 403, "verification_required")
    _, someone_else = care.resident()
    _refused_and_nothing_stored(app, client.post("/api/v1/me/homecare/orders", headers=headers, json=request_body(
        care.service["id"], someone_else)), 404, "patient_not_found")
    stranger_headers, stranger, person = care.hospital.resident()
    stay = care.hospital.admit(person)
    _refused_and_nothing_stored(app, client.post("/api/v1/me/homecare/orders", headers=headers, json={
        **body, "shared_record": {"kind": "admission", "id": stay["id"], "consent": True}}), 404,
        "shared_record_not_found")  # another person's stay cannot be shared
    withdrawn = care.publish(code="HC009", active=False)
    _refused_and_nothing_stored(app, client.post("/api/v1/me/homecare/orders", headers=headers, json={
        **body, "service_id": withdrawn["id"]}), 404, "homecare_service_not_found")
    care.request(headers, patient_id)
    again = client.post("/api/v1/me/homecare/orders", json=body, headers=headers)
    assert_refused(again, 409, "already_requested")
    assert orders_count(app) == 1


@pytest.mark.parametrize("changes, field", [
    ({"eligibility": {"rules": [{"kind": "vip"}]}}, "eligibility"),
    ({"eligibility": {"rules": [{"kind": "age_at_least_years"}]}}, "eligibility"),
    ({"eligibility": {"rules": [{"kind": "bed_bound", "days": 3}]}}, "eligibility"),
    ({"travel_bands": []}, "travel_bands"),
    ({"travel_bands": [{"code": "A", "name": "近", "fee_fen": 1}, {"code": "A", "name": "远", "fee_fen": 2}]},
     "travel_bands"),
    ({"service_fee_fen": -1}, "service_fee_fen"),
    ({"service_fee_fen": 12.5}, "service_fee_fen"),
    ({"areas": ["泰山区"]}, "areas"),
    ({"consumables": [{"code": "C 1", "name": "x", "unit": "个", "unit_price_fen": 1}]}, "consumables"),
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"active": 0}, "active"),
])
def test_bad_catalogue_entries_are_refused(app, client, care, changes, field):
    response = client.post("/api/v1/staff/homecare/services", json=service_body(code="HC777", **changes),
                           headers=care.admin)
    assert_refused(response, 422, "validation_error")
    assert field in response.json["errors"]
    assert len(client.get("/api/v1/staff/homecare/services", headers=care.admin).json["items"]) == 1


def test_catalogue_and_qualification_refusals(app, client, care):
    assert_refused(client.post("/api/v1/staff/homecare/services", json=service_body(), headers=care.admin), 409,
                   "service_code_taken")
    assert_refused(client.put(f"/api/v1/staff/homecare/nurses/{care.nurse_id}/qualifications",
                              json={"service_ids": ["hcs_nope"]}, headers=care.admin), 422, "unknown_service")
    assert_refused(client.put(f"/api/v1/staff/homecare/nurses/{care.staff_id(care.dispatcher)}/qualifications",
                              json={"service_ids": []}, headers=care.admin), 404, "nurse_not_found")
    assert_refused(client.get("/api/v1/homecare/services/hcs_nope"), 404, "homecare_service_not_found")
    assert_refused(client.get("/api/v1/homecare/services?area_code=abc"), 422, "validation_error")
    nurses = client.get("/api/v1/staff/homecare/nurses", headers=care.admin).json["items"]
    assert nurses == [{"id": care.nurse_id, "username": nurses[0]["username"], "service_ids": [care.service["id"]]}]


def test_dispatch_and_visit_refusals(app, client, care):
    headers, patient_id = care.resident()
    order = care.request(headers, patient_id, distance_band=None)
    unqualified = care.hospital.staff(role="nurse", wards="")
    assert_refused(client.post(f"/api/v1/staff/homecare/orders/{order['id']}/assign", headers=care.dispatcher,
                               json={"nurse_id": care.staff_id(unqualified), "distance_band": "A"}), 422,
                   "nurse_not_qualified")
    assert_refused(client.post(f"/api/v1/staff/homecare/orders/{order['id']}/assign", headers=care.dispatcher,
                               json={"nurse_id": care.nurse_id}), 422, "distance_band_required")
    assert_refused(client.post(f"/api/v1/staff/homecare/orders/{order['id']}/decline", headers=care.dispatcher,
                               json={"reason": ""}), 422, "validation_error")
    assert_refused(client.post(f"/api/v1/staff/homecare/orders/{order['id']}/accept", headers=care.nurse), 404,
                   "homecare_order_not_found")  # not assigned to her yet
    care.assign(order["id"], band="A")
    assert_refused(client.post(f"/api/v1/staff/homecare/orders/{order['id']}/check-in", json={},
                               headers=care.nurse), 409, "invalid_order_state")  # accept first
    care.staff_post(care.nurse, order["id"], "accept")
    path = f"/api/v1/staff/homecare/orders/{order['id']}"
    assert_refused(client.post(f"{path}/check-in", json={"lat": 36.1}, headers=care.nurse), 422, "validation_error")
    assert_refused(client.post(f"{path}/check-in", json={"lat": 91, "lng": 0}, headers=care.nurse), 422,
                   "validation_error")
    care.staff_post(care.nurse, order["id"], "check-in", {})
    assert_refused(client.post(f"{path}/check-out", headers=care.nurse), 409, "record_missing")
    for consumables, code in (([{"code": "XX99", "quantity": 1}], "unknown_consumable"),
                              ([{"code": "FL01", "quantity": 0}], "validation_error"),
                              ([{"code": "FL01", "quantity": 1}, {"code": "FL01", "quantity": 2}], "validation_error"),
                              ([{"quantity": 1}, {"quantity": 2}], "validation_error"),  # a line without a code
                              ("FL01", "validation_error")):
        assert_refused(client.post(f"{path}/record", json={"notes": "已换药", "consumables": consumables},
                                   headers=care.nurse), 422, code)
    assert client.get(path, headers=care.nurse).json["visit_notes"] is None  # none of it was stored
    assert_refused(client.post(f"/api/v1/me/homecare/orders/{order['id']}/rating", json={"score": 5},
                               headers=headers), 409, "not_finished")
    care.staff_post(care.nurse, order["id"], "record", {"notes": "已换药"})
    care.staff_post(care.nurse, order["id"], "check-out")
    for body in ({"score": 6}, {"score": "5"}, {"score": 0}, {"score": 3, "comment": ""}, {}):
        assert_refused(client.post(f"/api/v1/me/homecare/orders/{order['id']}/rating", json=body, headers=headers),
                       422, "validation_error")
    assert client.get(f"/api/v1/me/homecare/orders/{order['id']}", headers=headers).json["rating"] is None
    assert_refused(client.post(f"/api/v1/me/homecare/orders/{order['id']}/complaint", json={"text": "差"},
                               headers=headers), 422, "validation_error")


def test_the_jobs_run_from_the_cli(app, care):
    result = app.test_cli_runner().invoke(args=["jobs", "homecare"])
    assert result.exit_code == 0 and '"lapsed": 0' in result.output, result.output


def test_the_worker_runs_the_homecare_jobs(app, care, monkeypatch):
    from patient_api import worker
    periods = {func.__name__: seconds for func, seconds in worker.PERIODIC}
    assert (periods["lapse_homecare_requests"], periods["alert_overdue_homecare_visits"],
            periods["deliver_staff_messages"]) == (60, 300, 10)
    monkeypatch.setattr(worker, "_app", app)
    assert worker.lapse_homecare_requests() == 0 and worker.alert_overdue_homecare_visits() == 0
    assert worker.deliver_staff_messages() == (0, 0)  # the catalogue's set-up told nobody


def test_two_lapse_runs_at_once_tell_once(app, client, care):
    from concurrent.futures import ThreadPoolExecutor
    headers, patient_id = care.resident()
    order = care.request(headers, patient_id)
    later = now() + timedelta(hours=3)

    def run(_):
        with app.app_context():
            try:
                return jobs.lapse_requests(later)
            finally:
                db.session.remove()
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert sorted(pool.map(run, range(2))) == [0, 1]
    assert [e for _, e in told(app, order["id"])] == ["homecare.lapsed"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(HomecareAlert)) == 1


def test_a_retried_request_with_the_same_key_is_one_order(app, client, care):
    headers, patient_id = care.resident()
    body = request_body(care.service["id"], patient_id)
    keyed = {**headers, "Idempotency-Key": "hc-retry-1"}
    first = client.post("/api/v1/me/homecare/orders", json=body, headers=keyed)
    again = client.post("/api/v1/me/homecare/orders", json=body, headers=keyed)
    assert first.status_code == again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert first.json["id"] == again.json["id"] and orders_count(app) == 1
