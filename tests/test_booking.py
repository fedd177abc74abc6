"""Booking rules: holds, fees, limits, cancel, check-in, no-shows, idempotency, rate limit."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from patient_api.accounts.models import Patient, PatientLink
from patient_api.billing.models import Bill
from patient_api.booking import lifecycle, services
from patient_api.booking.models import Appointment
from patient_api.common.clock import LOCAL, now
from patient_api.directory.models import Hospital, Schedule, Ticket
from patient_api.extensions import db

from .factories import DeadRedis, freeze_rate_window
from .sqlcount import statements

BOOK = "/api/v1/appointments"


def account_of(patient_id):
    """The account that added the patient (inside an app context)."""
    return db.session.scalars(sa.select(PatientLink.account_id).filter_by(patient_id=patient_id)).first()


def book(client, headers, schedule_id, patient_id, **extra):
    return client.post(BOOK, json={"schedule_id": schedule_id, "patient_id": patient_id},
                       headers={**headers, **extra})


def test_free_clinic_books_at_once(client, make):
    schedule_id = make.schedule(fee_fen=0)
    headers, patient_id = make.resident()
    response = book(client, headers, schedule_id, patient_id)
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "booked" and body["bill_id"] is None and body["hold_expires_at"] is None
    assert body["queue_no"] == 1 and body["visit_start"].endswith("T08:00:00+08:00")
    assert body["visit_end"].endswith("T08:30:00+08:00") and body["fee_fen"] == 0


def test_fee_creates_hold_and_unpaid_registration_bill(app, client, make):
    schedule_id = make.schedule(fee_fen=1200)
    headers, patient_id = make.resident()
    body = book(client, headers, schedule_id, patient_id).json
    assert body["status"] == "pending_payment" and body["fee_fen"] == 1200 and body["bill_id"]
    assert body["hold_expires_at"].endswith("+08:00")
    with app.app_context():
        bill = db.session.get(Bill, body["bill_id"])
        assert (bill.kind, bill.status, bill.total_fen, bill.patient_id) == ("registration", "unpaid", 1200, patient_id)
        assert [(i.quantity, i.unit_price_fen) for i in bill.items] == [(1, 1200)]


def test_the_schedule_row_is_locked_last_and_its_count_stays_exact(app, client, make):
    """`available` goes down in the booking's last statement before its commit: the UPDATE locks the schedule's row,
    which every booking of the schedule needs, until the commit (taken right after the claim, a rush's winners queued
    on it for the rest of each other's bookings)."""
    schedule_id = make.schedule(fee_fen=1200, capacity=3)
    headers, patient_id = make.resident()
    first_headers, first_patient = make.resident()
    assert book(client, first_headers, schedule_id, first_patient).status_code == 201  # caches warm
    with statements(app, with_transaction=True) as sql:
        response = book(client, headers, schedule_id, patient_id, **{"Idempotency-Key": "lock-last-1"})
    assert response.status_code == 201, response.json
    counted = [i for i, s in enumerate(sql) if s.lstrip().startswith("UPDATE schedules")]
    assert len(counted) == 1
    after = [" ".join(s.split())[:40] for s in sql[counted[0] + 1:]]
    assert after[-1] == "COMMIT" and not any(s.startswith(("INSERT", "SAVEPOINT")) for s in after), after
    assert len(after) <= 2, after  # the Idempotency-Key's stored answer, then COMMIT
    with app.app_context():
        free = db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).filter_by(
            schedule_id=schedule_id, status="free"))
        assert db.session.get(Schedule, schedule_id).available == free == 1


def _reads_of_appointments(sql):
    return [s for s in sql if s.lstrip().startswith("SELECT") and re.search(r"\bFROM appointments\b", s)]


def test_the_rules_read_the_patients_appointments_once(app, client, make):
    """Lapsed holds, the no-show restriction, the limits and the free revisit are judged on one read of the patient's
    appointments (five, one after another, before)."""
    schedule_id = make.schedule(fee_fen=1200, capacity=3)
    headers, patient_id = make.resident()
    with statements(app) as sql:
        assert book(client, headers, schedule_id, patient_id).status_code == 201
    assert len(_reads_of_appointments(sql)) == 1, _reads_of_appointments(sql)


def test_a_lapsed_hold_that_cannot_be_expired_still_counts(app, client, make, monkeypatch):
    """A lapsed hold paid (or cancelled) between the read and its expiry is read again: paid, it is an active booking
    of that department and day, so the patient cannot book the day's other session; expired, they can."""
    morning, afternoon = make.schedule(fee_fen=1200), make.schedule(fee_fen=1200, period="afternoon")
    headers, patient_id = make.resident()
    held = book(client, headers, morning, patient_id).json
    with app.app_context():
        db.session.execute(sa.update(Appointment).where(Appointment.id == held["id"])
                           .values(hold_expires_at=now() - timedelta(seconds=1)))
        db.session.commit()
    monkeypatch.setattr(lifecycle, "expire_hold", lambda *args, **kwargs: False)
    refused = book(client, headers, afternoon, patient_id)
    assert (refused.status_code, refused.json["code"]) == (409, "already_booked")
    monkeypatch.undo()
    assert book(client, headers, afternoon, patient_id).status_code == 201
    with app.app_context():
        assert db.session.get(Appointment, held["id"]).status == "expired"


def test_queue_numbers_follow_booking_order(client, make):
    schedule_id = make.schedule(fee_fen=0, capacity=4)
    numbers = []
    for _ in range(3):
        headers, patient_id = make.resident()
        numbers.append(book(client, headers, schedule_id, patient_id).json["queue_no"])
    assert numbers == [1, 2, 3]


@pytest.mark.parametrize("kwargs, code", [
    ({"released": False}, "not_released"),
    ({"stopped": True}, "schedule_closed"),
    ({"days_ahead": -1}, "schedule_closed"),
])
def test_schedule_state_errors(client, make, kwargs, code):
    headers, patient_id = make.resident()
    response = book(client, headers, make.schedule(**kwargs), patient_id)
    assert response.status_code == 409 and response.json["code"] == code


def test_sold_out(client, make):
    schedule_id = make.schedule(capacity=1)
    first, second = make.resident(), make.resident()
    assert book(client, *first[:1], schedule_id, first[1]).status_code == 201
    response = book(client, second[0], schedule_id, second[1])
    assert response.status_code == 409 and response.json["code"] == "sold_out"


def test_one_active_booking_per_department_per_day(client, make):
    headers, patient_id = make.resident()
    first, second = make.schedule(), make.schedule()  # same department, same day, two doctors
    assert book(client, headers, first, patient_id).status_code == 201
    response = book(client, headers, second, patient_id)
    assert response.status_code == 409 and response.json["code"] == "already_booked"
    other_department = make.schedule(department_code="EK")
    assert book(client, headers, other_department, patient_id).status_code == 201


def test_database_constraint_enforces_one_per_department_day(app, make):
    """Even code that skips the check cannot insert a second active appointment."""
    headers, patient_id = make.resident()
    schedule_id = make.schedule(fee_fen=0)
    with app.app_context():
        account_id = account_of(patient_id)
        first = services.book(account_id, patient_id, schedule_id)
        db.session.commit()
        twin = Appointment(account_id=account_id, patient_id=patient_id, schedule_id=schedule_id,
                           ticket_id=first.ticket_id, hospital_id=first.hospital_id,
                           department_id=first.department_id, visit_date=first.visit_date, status="booked",
                           queue_no=2, visit_start=first.visit_start, visit_end=first.visit_end, fee_fen=0)
        db.session.add(twin)
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_at_most_five_active_bookings(client, make, app):
    app.config["BOOKING_RATE_LIMIT"] = 100
    try:
        headers, patient_id = make.resident()
        for code in ("A", "B", "C", "D", "E"):
            assert book(client, headers, make.schedule(department_code=code), patient_id).status_code == 201
        response = book(client, headers, make.schedule(department_code="F"), patient_id)
        assert response.status_code == 409 and response.json["code"] == "too_many_bookings"
    finally:
        app.config["BOOKING_RATE_LIMIT"] = 5


def test_booking_for_someone_elses_patient_is_404(client, make):
    schedule_id = make.schedule()
    _, victim = make.resident()
    headers, _ = make.resident()
    response = book(client, headers, schedule_id, victim)
    assert response.status_code == 404 and response.json["code"] == "patient_not_found"


def test_every_appointment_endpoint_refuses_another_account(client, make):
    headers, patient_id = make.resident()
    appointment_id = book(client, headers, make.schedule(), patient_id).json["id"]
    stranger, _ = make.resident()
    for method, path in (("get", f"{BOOK}/{appointment_id}"), ("post", f"{BOOK}/{appointment_id}/cancel"),
                         ("post", f"{BOOK}/{appointment_id}/check-in")):
        response = getattr(client, method)(path, headers=stranger)
        assert response.status_code == 404 and response.json["code"] == "appointment_not_found", path
    assert client.get(BOOK, headers=stranger).json["items"] == []
    assert client.get(f"{BOOK}/{appointment_id}", headers=headers).json["status"] == "pending_payment"


def test_family_member_sees_shared_patients_appointments_once_verified(client, make):
    headers, patient_id = make.resident()
    appointment_id = book(client, headers, make.schedule(), patient_id).json["id"]
    relative = make.login()
    with client.application.app_context():
        patient = db.session.get(Patient, patient_id)
        name, number = patient.name, patient.id_number
    client.post("/api/v1/me/patients", json={"name": name, "id_number": number, "relation": "parent"},
                headers=relative)
    listed = lambda: client.get(BOOK, headers=relative, query_string={"status": "pending_payment"}).json["items"]  # noqa: E731
    assert listed() == []  # a claim sees only its own bookings
    assert client.get(f"{BOOK}/{appointment_id}", headers=relative).json["code"] == "verification_required"
    make.verify(relative, patient_id)
    assert [a["id"] for a in listed()] == [appointment_id]


def test_cancel_frees_the_ticket_and_closes_the_bill(app, client, make):
    schedule_id = make.schedule(capacity=1)
    headers, patient_id = make.resident()
    appointment = book(client, headers, schedule_id, patient_id).json
    response = client.post(f"{BOOK}/{appointment['id']}/cancel", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    with app.app_context():
        assert db.session.get(Bill, appointment["bill_id"]).status == "closed"
    again = client.post(f"{BOOK}/{appointment['id']}/cancel", headers=headers)
    assert again.status_code == 409 and again.json["code"] == "appointment_not_cancellable"
    other, other_patient = make.resident()
    assert book(client, other, schedule_id, other_patient).status_code == 201


def test_cancel_deadline_is_15_00_the_day_before(app, make):
    headers, patient_id = make.resident()
    schedule_id = make.schedule(fee_fen=0, days_ahead=1)
    with app.app_context():
        account_id = account_of(patient_id)
        appointment = services.book(account_id, patient_id, schedule_id)
        db.session.commit()
        schedule = db.session.get(Schedule, schedule_id)
        deadline = lifecycle.cancel_deadline(appointment, db.session.get(Hospital, schedule.hospital_id))
        local = deadline.astimezone(LOCAL)
        assert (local.date(), local.hour) == (schedule.date - timedelta(days=1), 15)
        with pytest.raises(Exception) as late:
            lifecycle.cancel(appointment, instant=deadline + timedelta(seconds=1))
        assert late.value.code == "cancel_deadline_passed"
        assert lifecycle.cancel(appointment, instant=deadline - timedelta(seconds=1)).status == "cancelled"


def test_appointment_states_its_cancel_deadline_and_check_in_window(client, make):
    """The page explains the rules the server applies: deadlines come with the appointment."""
    schedule_id = make.schedule(fee_fen=0, days_ahead=2)
    headers, patient_id = make.resident()
    body = book(client, headers, schedule_id, patient_id).json
    visit_day = body["visit_date"]
    from datetime import date
    day_before = (date.fromisoformat(visit_day) - timedelta(days=1)).isoformat()
    assert body["cancel_deadline"] == f"{day_before}T15:00:00+08:00"
    assert body["check_in_opens_at"] == f"{visit_day}T07:00:00+08:00"  # an hour before the 08:00 window
    assert body["check_in_closes_at"] == f"{visit_day}T08:30:00+08:00"  # 30 minutes after it starts
    listed = client.get(BOOK, headers=headers).json["items"][0]
    assert listed["cancel_deadline"] == body["cancel_deadline"]
    hospital = client.get(f"/api/v1/hospitals/{body['hospital_id']}").json
    assert hospital["cancel_deadline_time"] == "15:00"


def test_check_in_window(app, make):
    headers, patient_id = make.resident()
    schedule_id = make.schedule(fee_fen=0)
    with app.app_context():
        account_id = account_of(patient_id)
        appointment = services.book(account_id, patient_id, schedule_id)
        db.session.commit()
        start = appointment.visit_start
        for instant, code in ((start - timedelta(minutes=61), "check_in_not_open"),
                              (start + timedelta(minutes=31), "check_in_closed")):
            with pytest.raises(Exception) as refused:
                lifecycle.check_in(appointment, instant=instant)
            assert refused.value.code == code
        assert lifecycle.check_in(appointment, instant=start + timedelta(minutes=29)).status == "checked_in"


def test_check_in_needs_payment_first(client, make):
    headers, patient_id = make.resident()
    appointment = book(client, headers, make.schedule(fee_fen=1200), patient_id).json
    response = client.post(f"{BOOK}/{appointment['id']}/check-in", headers=headers)
    assert response.status_code == 409 and response.json["code"] == "payment_required"


def test_no_shows_restrict_booking_with_a_clear_message(app, client, make):
    headers, patient_id = make.resident()
    with app.app_context():
        account_id = account_of(patient_id)
    past = []
    for days_ago, code in ((-60, "A"), (-30, "B"), (-3, "C")):
        past.append(make.schedule(fee_fen=0, days_ahead=days_ago, department_code=code))
    with app.app_context():
        for schedule_id in past:  # booked back then (the session was open), never came
            schedule = db.session.get(Schedule, schedule_id)
            services.book(account_id, patient_id, schedule_id, instant=schedule.starts_at - timedelta(hours=1))
        db.session.commit()
        assert lifecycle.mark_no_shows() == 3
    response = book(client, headers, make.schedule(department_code="Z"), patient_id)
    assert response.status_code == 403 and response.json["code"] == "booking_restricted"
    with app.app_context():
        until = (db.session.get(Schedule, past[-1]).date + timedelta(days=90)).isoformat()
    assert until in response.json["message"] and "爽约" in response.json["message"]


def test_expired_hold_is_swept_exactly_once(app, client, make):
    schedule_id = make.schedule(capacity=1)
    headers, patient_id = make.resident()
    appointment = book(client, headers, schedule_id, patient_id).json
    later = now() + timedelta(minutes=16)
    with app.app_context():
        assert lifecycle.sweep_expired_holds(instant=later) == 1
        assert lifecycle.sweep_expired_holds(instant=later) == 0
        assert db.session.get(Schedule, schedule_id).available == 1
        assert db.session.get(Bill, appointment["bill_id"]).status == "closed"
        assert db.session.get(Appointment, appointment["id"]).status == "expired"


def test_expired_hold_is_reclaimed_at_claim_time(app, make):
    schedule_id = make.schedule(capacity=1)
    (_, first), (_, second) = make.resident(), make.resident()
    with app.app_context():
        held = services.book(account_of(first), first, schedule_id)
        db.session.commit()
        later = now() + timedelta(minutes=16)
        taken = services.book(account_of(second), second, schedule_id, instant=later)
        db.session.commit()
        assert taken.queue_no == held.queue_no
        assert db.session.get(Appointment, held.id).status == "expired"
        assert db.session.get(Schedule, schedule_id).available == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
            Ticket.schedule_id == schedule_id, Ticket.appointment_id == taken.id)) == 1


def test_lapsed_hold_reads_as_expired_before_the_sweep(app, client, make):
    headers, patient_id = make.resident()
    appointment = book(client, headers, make.schedule(), patient_id).json
    with app.app_context():
        db.session.execute(sa.update(Appointment).values(hold_expires_at=now() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get(f"{BOOK}/{appointment['id']}", headers=headers).json["status"] == "expired"


def test_idempotency_key_replays_and_refuses_reuse(client, make):
    schedule_id = make.schedule(capacity=5)
    headers, patient_id = make.resident()
    first = book(client, headers, schedule_id, patient_id, **{"Idempotency-Key": "k-1"})
    replay = book(client, headers, schedule_id, patient_id, **{"Idempotency-Key": "k-1"})
    assert first.status_code == replay.status_code == 201 and first.json == replay.json
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = make.schedule(department_code="EK")
    reused = book(client, headers, other, patient_id, **{"Idempotency-Key": "k-1"})
    assert reused.status_code == 422 and reused.json["code"] == "idempotency_key_reused"
    assert client.get(f"/api/v1/schedules/{schedule_id}").json["available"] == 4


def test_idempotency_replays_business_errors_too(client, make):
    headers, patient_id = make.resident()
    schedule_id = make.schedule(released=False)
    first = book(client, headers, schedule_id, patient_id, **{"Idempotency-Key": "k-2"})
    second = book(client, headers, schedule_id, patient_id, **{"Idempotency-Key": "k-2"})
    assert first.status_code == second.status_code == 409 and first.json == second.json


def test_rate_limit_per_account(client, make, monkeypatch):
    freeze_rate_window(monkeypatch)
    headers, patient_id = make.resident()
    schedule_id = make.schedule(released=False)
    codes = [book(client, headers, schedule_id, patient_id).status_code for _ in range(7)]
    assert codes == [409] * 5 + [429] * 2
    limited = book(client, headers, schedule_id, patient_id)
    assert limited.json["code"] == "rate_limited" and 1 <= int(limited.headers["Retry-After"]) <= 10


def test_booking_without_redis_never_oversells(app, make, monkeypatch):
    """Redis only sheds load: with it gone, the database still hands out each ticket once."""
    schedule_id = make.schedule(capacity=2)
    residents = [make.resident() for _ in range(4)]
    from patient_api.extensions import redis
    monkeypatch.setattr(redis, "_client", DeadRedis())
    outcomes = []
    with app.app_context():
        for _, patient_id in residents:
            try:
                services.book(account_of(patient_id), patient_id, schedule_id)
                db.session.commit()
                outcomes.append("ok")
            except Exception as exc:  # noqa: BLE001 - the code is what we count
                db.session.rollback()
                outcomes.append(exc.code)
        assert outcomes == ["ok", "ok", "sold_out", "sold_out"]
        assert db.session.get(Schedule, schedule_id).available == 0
