"""双向转诊 refusals: every wrong-state step, consent, shareable reports, bad ids and bodies — a clear Chinese error
with a stable code, and nothing stored."""
import pytest

from .pools import refused
from .referrals import API, CITY, CITY2, CLINIC, World, counts, told


@pytest.fixture
def w(app, client, make):
    return World(app, client, make)


def post(w, body, headers=None):
    return w.client.post(f"{API}/staff/referrals", json=body, headers=headers or w.clinic)


@pytest.mark.parametrize("change, code, field", [
    ({"consent": None}, "consent_required", "consent"),
    ({"report_ids": ["rpt_nope"]}, "report_not_shareable", "report_ids"),
    ({"id_number": "370902198613011234"}, "invalid_id_number", "id_number"),
    ({"to_hospital_id": "hsp_nope"}, "invalid_destination", "to_hospital_id"),
    ({"to_department_id": "dep_nope"}, "invalid_department", "to_department_id"),
    ({"schedule_id": "sch_nope"}, "invalid_schedule", "schedule_id"),
    ({"phone": "12345"}, "invalid_phone", "phone"),
])
def test_refused_bodies_store_nothing(app, w, change, code, field):
    refused(post(w, w.up(**change)), 422, code)
    assert post(w, w.up(**change)).json["errors"][field]
    assert counts(app) == (0, 0, 0) and told(app, "referral.booked") == []


def test_a_report_of_another_hospital_or_person_is_not_shareable(app, w):
    other_person = w.report(CLINIC, "血糖", patient_id=w.resident()[1])
    for report_id in (w.city_report, other_person):
        refused(post(w, w.up(report_ids=[report_id])), 422, "report_not_shareable")
    held = w.report(CLINIC, "HIV抗体", sensitive=True)
    refused(post(w, w.up(report_ids=[held])), 422, "report_not_shareable")
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize("change", [
    {"direction": "sideways"}, {"urgency": "asap"}, {"reason": ""}, {"reason": "   "}, {"summary": "x" * 2001},
    {"consent": {"by": "neighbour", "method": "signed"}}, {"consent": {"by": "patient"}},
    {"plan": "康复"}, {"followup": {"kind": "blood_pressure", "every_days": 14}}, {"to_department_id": None},
    {"unknown": 1}, {"report_ids": "rpt_1"}, {"slot_start": "2026-01-01T08:00:00+08:00", "schedule_id": None},
])
def test_malformed_up_bodies_are_422(app, w, change):
    response = post(w, w.up(**change) if change.get("to_department_id", 1) is not None else
                    {k: v for k, v in w.up().items() if k != "to_department_id"})
    refused(response, 422, "validation_error")
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize("change", [
    {"followup": {"kind": "mood", "every_days": 14}}, {"followup": {"kind": "glucose", "every_days": 6}},
    {"followup": {"kind": "glucose", "every_days": 91}}, {"plan": None}, {"schedule_id": "sch_1"},
])
def test_malformed_down_bodies_are_422(app, w, change):
    refused(post(w, w.down(**change), headers=w.city), 422, "validation_error")
    assert counts(app) == (0, 0, 0)


def test_destinations_fit_the_direction_and_never_ones_own(app, w):
    refused(post(w, w.down(to=CITY2), headers=w.city), 422, "invalid_destination")  # down goes to a clinic
    refused(post(w, w.up(to_hospital_id=w.hospital_id(CLINIC), to_department_id=None, schedule_id=None)), 422,
            "validation_error")
    refused(post(w, w.down(to=CITY), headers=w.city), 422, "invalid_destination")  # its own hospital
    refused(post(w, w.up(to_hospital_id=w.hospital_id(CITY2))), 422, "invalid_department")
    assert counts(app) == (0, 0, 0)


def test_an_unregistered_person_is_404(app, w):
    from .factories import resident_id
    refused(post(w, w.up(id_number=resident_id(999)), ), 404, "patient_not_found")
    refused(w.client.post(f"{API}/staff/referrals/patient", json={"id_number": resident_id(998)}, headers=w.clinic),
            404, "patient_not_found")
    refused(w.client.post(f"{API}/staff/referrals/patient", json={"id_number": "12345"}, headers=w.clinic),
            422, "invalid_id_number")
    assert counts(app) == (0, 0, 0)


def test_a_gone_pool_stores_no_referral(app, client, make):
    w = World(app, client, make, capacity=5)  # 20 % of 5: one ticket kept
    w.send(w.up())
    second = w.resident()
    refused(post(w, w.up(id_number=second[2], report_ids=[])), 409, "referral_tickets_gone")
    assert counts(app)[0] == 1


def test_the_same_patient_twice_on_one_day_answers_as_booking_does(app, client, make):
    """Other booking errors answer as POST /appointments does."""
    w = World(app, client, make, capacity=10)
    w.send(w.up())
    refused(post(w, w.up()), 409, "already_booked")
    assert counts(app)[0] == 1


STEPS = {"receive": None, "accept": None, "complete": None, "decline": {"reason": "不收"},
         "cancel": {"reason": "不转了"}, "booking": None}


def attempt(w, headers, referral_id, step, expect_code):
    body = STEPS[step] if step != "booking" else {"schedule_id": w.schedule_id}
    response = w.client.post(f"{API}/staff/referrals/{referral_id}/{step}", headers=headers,
                             **({"json": body} if body is not None else {}))
    refused(response, 409, expect_code)
    assert any(ch in response.json["message"] for ch in ("已转出", "已预约", "已接诊", "已接收", "已完成", "已拒收",
                                                         "已取消"))


def test_every_wrong_state_step_is_409_naming_the_state(app, w):
    up = w.send(w.up())  # booked
    down = w.send(w.down(), headers=w.city)  # sent
    for step in ("complete",):
        attempt(w, w.city, up["id"], step, "referral_state")
    attempt(w, w.clinic, up["id"], "booking", "referral_state")
    attempt(w, w.city, up["id"], "accept", "referral_state")  # up has no accept
    attempt(w, w.clinic, down["id"], "receive", "referral_state")  # down has no receive
    attempt(w, w.clinic, down["id"], "complete", "referral_state")  # not accepted yet
    w.step(w.city, up["id"], "receive")
    for step, headers in (("decline", w.city), ("cancel", w.clinic), ("receive", w.city)):
        attempt(w, headers, up["id"], step, "referral_state")
    w.step(w.city, up["id"], "complete")
    for step, headers in (("complete", w.city), ("decline", w.city), ("cancel", w.clinic), ("receive", w.city)):
        attempt(w, headers, up["id"], step, "referral_state")
    w.step(w.clinic, down["id"], "accept")
    for step in ("accept", "decline"):
        attempt(w, w.clinic, down["id"], step, "referral_state")
    attempt(w, w.city, down["id"], "cancel", "referral_state")
    declined = w.send(w.down(), headers=w.city)
    w.step(w.clinic, declined["id"], "decline", {"reason": "无康复床位"})
    for step in ("accept", "decline", "complete"):
        attempt(w, w.clinic, declined["id"], step, "referral_state")
    cancelled = w.send(w.up(schedule_id=None, report_ids=[]))
    w.step(w.clinic, cancelled["id"], "cancel", {"reason": "患者拒绝"})
    attempt(w, w.clinic, cancelled["id"], "booking", "referral_state")
    attempt(w, w.city, cancelled["id"], "receive", "referral_state")


def test_a_step_of_the_other_side_is_403(app, w):
    up = w.send(w.up())
    for step, headers in (("receive", w.clinic), ("complete", w.clinic), ("decline", w.clinic), ("cancel", w.city)):
        body = STEPS[step]
        response = w.client.post(f"{API}/staff/referrals/{up['id']}/{step}", headers=headers,
                                 **({"json": body} if body is not None else {}))
        refused(response, 403, "referral_side_forbidden")
    refused(w.client.get(f"{API}/staff/referrals/{up['id']}/reports/{w.reports[0]}", headers=w.clinic), 403,
            "referral_side_forbidden")


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 201}, {"reason": "好", "extra": 1}])
def test_decline_and_cancel_need_a_reason(app, w, body):
    up = w.send(w.up())
    refused(w.client.post(f"{API}/staff/referrals/{up['id']}/decline", json=body, headers=w.city), 422,
            "validation_error")
    refused(w.client.post(f"{API}/staff/referrals/{up['id']}/cancel", json=body, headers=w.clinic), 422,
            "validation_error")


def test_bad_queries_are_422(app, w):
    for path in ("/staff/referrals/destinations?direction=left", "/staff/referrals/destinations",
                 "/staff/referrals?box=spam", "/staff/referrals", "/staff/referrals?box=incoming&status=lost",
                 "/staff/referrals/tickets", "/staff/referrals?box=incoming&cursor=%%%"):
        refused(w.client.get(f"{API}{path}", headers=w.clinic), 422, "validation_error")
    refused(w.client.get(f"{API}/staff/referrals/tickets?hospital_id=hsp_nope", headers=w.clinic), 404,
            "hospital_not_found")
    refused(w.client.get(f"{API}/staff/referrals/tickets?hospital_id={w.hospital_id(CITY)}&department_id=dep_x",
                         headers=w.clinic), 404, "department_not_found")
    refused(w.client.get(f"{API}/staff/referrals/tickets?hospital_id={w.hospital_id(CLINIC)}", headers=w.clinic),
            404, "hospital_not_found")  # one's own hospital is no destination
