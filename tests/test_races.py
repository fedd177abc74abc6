"""Races with real threads against the real database (PostgreSQL in CI) and Redis, counted exactly."""
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from patient_api.accounts.identity import parse_resident_id
from patient_api.accounts.models import Account, Patient, PatientLink
from patient_api.booking import lifecycle, services
from patient_api.booking.models import Appointment
from patient_api.common import auth, crypto
from patient_api.common.clock import now
from patient_api.directory.models import Schedule, Ticket
from patient_api.errors import ApiError
from patient_api.extensions import db

from .conftest import is_postgres
from .factories import chinese_name, freeze_rate_window, resident_id

BOOK = "/api/v1/appointments"


def residents(app, count, start=10_000):
    """Bulk-create signed-in residents with one patient each: [(headers, patient_id, account_id)]."""
    out = []
    with app.test_request_context():
        for n in range(start, start + count):
            parsed = parse_resident_id(resident_id(n))
            account = Account(openid=f"race-{n}")
            patient = Patient(name=chinese_name(n), id_number_enc=crypto.encrypt(parsed.number),
                              id_number_index=crypto.blind_index(parsed.number),
                              gender=parsed.gender, birth_date=parsed.birth_date, region_code=parsed.region_code)
            db.session.add_all([account, patient])
            db.session.flush()
            db.session.add(PatientLink(account_id=account.id, patient_id=patient.id, relation="self",
                                       claimed_name=patient.name))
            token, _ = auth.issue_session("resident", account.id)
            out.append(({"Authorization": f"Bearer {token}"}, patient.id, account.id))
        db.session.commit()
    return out


def fire(app, calls, threads):
    """Run (headers, body) POSTs to /appointments from many threads at once; returns responses."""
    def one(call):
        headers, body = call
        response = app.test_client().post(BOOK, json=body, headers=headers)
        return response.status_code, response.json
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, calls))


def threads_for(app):
    """Many connections on PostgreSQL; SQLite has one writer anyway."""
    return 32 if is_postgres(app) else 8


def active_count(schedule_id):
    return db.session.scalar(sa.select(sa.func.count()).select_from(Appointment).where(
        Appointment.schedule_id == schedule_id, Appointment.status.in_(("pending_payment", "booked", "checked_in"))))


def test_2000_attempts_on_30_tickets_never_oversell(app, make):
    schedule_id = make.schedule(capacity=30, fee_fen=1200)
    people = residents(app, 2000)
    results = fire(app, [(h, {"schedule_id": schedule_id, "patient_id": p}) for h, p, _ in people],
                   threads_for(app))
    outcome = Counter(status if status == 201 else body["code"] for status, body in results)
    assert outcome == {201: 30, "sold_out": 1970}
    with app.app_context():
        assert active_count(schedule_id) == 30
        assert db.session.get(Schedule, schedule_id).available == 0
        held = db.session.execute(sa.select(Ticket.seq, Ticket.appointment_id).where(
            Ticket.schedule_id == schedule_id, Ticket.status == "held")).all()
    assert sorted(seq for seq, _ in held) == list(range(1, 31))
    winners = {body["id"] for status, body in results if status == 201}
    assert {appointment_id for _, appointment_id in held} == winners


def test_one_resident_fifty_parallel_attempts_get_one_booking(app, make):
    app.config["BOOKING_RATE_LIMIT"] = 1000  # let every attempt reach the database
    try:
        (headers, patient_id, _), = residents(app, 1)
        schedules = [make.schedule(capacity=30) for _ in range(5)]  # same department and day
        calls = [(headers, {"schedule_id": schedules[i % 5], "patient_id": patient_id}) for i in range(50)]
        results = fire(app, calls, threads_for(app))
    finally:
        app.config["BOOKING_RATE_LIMIT"] = 5
    outcome = Counter(status if status == 201 else body["code"] for status, body in results)
    assert outcome == {201: 1, "already_booked": 49}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 1
        assert sum(db.session.get(Schedule, s).available for s in schedules) == 5 * 30 - 1


def test_rate_limit_sheds_a_resident_burst(app, make, monkeypatch):
    freeze_rate_window(monkeypatch)
    (headers, patient_id, _), = residents(app, 1)
    schedule_id = make.schedule(capacity=30)
    results = fire(app, [(headers, {"schedule_id": schedule_id, "patient_id": patient_id})] * 50, threads_for(app))
    outcome = Counter(status if status == 201 else body["code"] for status, body in results)
    assert outcome[201] == 1 and outcome["rate_limited"] >= 45 - 1
    assert outcome[201] + outcome["already_booked"] + outcome["rate_limited"] == 50


def test_expiry_under_concurrency_returns_each_ticket_once(app, make):
    capacity = 20
    schedule_id = make.schedule(capacity=capacity, fee_fen=1200)
    holders = residents(app, capacity, start=20_000)
    with app.app_context():
        for _, patient_id, account_id in holders:
            services.book(account_id, patient_id, schedule_id)
        db.session.commit()
    later = now() + timedelta(minutes=16)
    claimers = residents(app, 30, start=30_000)

    def sweep(_):
        with app.app_context():
            return sum(lifecycle.sweep_expired_holds(instant=later) for _ in range(3))

    def claim(person):
        _, patient_id, account_id = person
        with app.app_context():
            try:
                services.book(account_id, patient_id, schedule_id, instant=later)
                db.session.commit()
                return "booked"
            except ApiError as err:
                db.session.rollback()
                return err.code

    with ThreadPoolExecutor(max_workers=threads_for(app)) as pool:
        sweeps = pool.map(sweep, range(4))
        claims = list(pool.map(claim, claimers))
    swept = sum(sweeps)
    with app.app_context():
        statuses = Counter(db.session.scalars(sa.select(Appointment.status).where(
            Appointment.id.in_([a for a in db.session.scalars(sa.select(Appointment.id))]))))
        assert statuses["expired"] == capacity  # every old hold ended exactly once
        assert swept <= capacity
        active = active_count(schedule_id)
        schedule = db.session.get(Schedule, schedule_id)
        assert active == Counter(claims)["booked"]
        assert schedule.available == capacity - active  # a double release would break this equality
        per_ticket = db.session.execute(sa.select(Ticket.id, sa.func.count(Appointment.id)).join(
            Appointment, (Appointment.ticket_id == Ticket.id) & Appointment.status.in_(("pending_payment",)))
            .where(Ticket.schedule_id == schedule_id).group_by(Ticket.id)).all()
        assert all(n == 1 for _, n in per_ticket)
    # Whatever the race left free is still bookable, to the last ticket and no further.
    late = residents(app, capacity, start=40_000)
    with app.app_context():
        for _, patient_id, account_id in late:
            from patient_api.booking import shedding
            shedding.mark_available(schedule_id)
            try:
                services.book(account_id, patient_id, schedule_id, instant=later)
                db.session.commit()
            except ApiError:
                db.session.rollback()
        assert active_count(schedule_id) == capacity
        assert db.session.get(Schedule, schedule_id).available == 0


def test_same_idempotency_key_in_parallel_books_once_and_replays(app, make):
    app.config["BOOKING_RATE_LIMIT"] = 1000
    try:
        (headers, patient_id, _), = residents(app, 1)
        schedule_id = make.schedule(capacity=30)
        keyed = {**headers, "Idempotency-Key": "tap-tap-tap"}
        results = fire(app, [(keyed, {"schedule_id": schedule_id, "patient_id": patient_id})] * 20, threads_for(app))
    finally:
        app.config["BOOKING_RATE_LIMIT"] = 5
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Appointment)) == 1


