"""号源预留 under concurrency, with real threads on the real database (PostgreSQL in CI): kept-back tickets are never
sold to the public before their release, never oversold, and a release moves exactly the unused ones."""
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from patient_api.accounts import people
from patient_api.accounts.identity import parse_resident_id
from patient_api.booking import pools, reservations, services, tickets
from patient_api.booking.models import Appointment
from patient_api.common.clock import now
from patient_api.directory.models import Schedule, Ticket
from patient_api.errors import ApiError
from patient_api.extensions import db

from .conftest import is_postgres
from .factories import chinese_name, resident_id
from .pools import elder_id, pooled_schedule
from .test_races import BOOK, residents, threads_for

ACTIVE = ("pending_payment", "booked", "checked_in")


def patients(app, numbers):
    """Patients without an account (as a kiosk or window creates them); their ids, in order."""
    with app.app_context():
        ids = [people.create_patient(chinese_name(n % 1000), parse_resident_id(number), "card").id
               for n, number in numbers]
        db.session.commit()
    return ids


def attempt(app, call):
    """Run one booking in its own app context and transaction: the appointment's id, or the refusal's code."""
    with app.app_context():
        try:
            appointment_id = call().id
            db.session.commit()
            return appointment_id
        except ApiError as refused:
            db.session.rollback()
            return refused.code


def tickets_of(app, schedule_id):
    """{ticket seq: (status, reserved_for, released_from, the appointment's pool, its patient)}."""
    with app.app_context():
        rows = db.session.execute(sa.select(Ticket.seq, Ticket.status, Ticket.reserved_for, Ticket.released_from,
                                            Appointment.pool, Appointment.patient_id, Appointment.status)
                                  .outerjoin(Appointment, Appointment.id == Ticket.appointment_id)
                                  .where(Ticket.schedule_id == schedule_id)).all()
    return {seq: rest for seq, *rest in rows}


def test_public_elder_and_referral_bookers_racing_each_get_only_their_own_tickets(app, make):
    schedule_id = pooled_schedule(app, {"referral": {"share": 0.2, "release_hours_before": 2},
                                        "elder": {"share": 0.2, "release_hours_before": 2}}, capacity=30)
    public = residents(app, 300, start=50_000)
    elders = patients(app, [(n, elder_id(n)) for n in range(600, 630)])
    referred = patients(app, [(n, resident_id(n)) for n in range(700, 730)])
    calls = [("public", (headers, {"schedule_id": schedule_id, "patient_id": patient_id}))
             for headers, patient_id, _ in public]
    calls += [("elder", lambda p=p: services.book(None, p, schedule_id, via="kiosk:k1")) for p in elders]
    calls += [("referral", lambda p=p: pools.book_from_pool("referral", p, schedule_id, via="referral:r"))
              for p in referred]
    calls = calls[::3] + calls[1::3] + calls[2::3]  # kinds interleaved, so they really race

    def run(call):
        kind, work = call
        if kind == "public":
            headers, body = work
            response = app.test_client().post(BOOK, json=body, headers=headers)
            return kind, response.json["id"] if response.status_code == 201 else response.json["code"]
        return kind, attempt(app, work)

    with ThreadPoolExecutor(max_workers=threads_for(app)) as pool:
        results = list(pool.map(run, calls))
    booked = {kind: [r for k, r in results if k == kind and r.startswith("apt")] for kind in ("public", "elder",
                                                                                           "referral")}
    refusals = Counter(r for _, r in results if not r.startswith("apt"))
    assert sum(map(len, booked.values())) == 30 and refusals == {"sold_out": 330}
    tickets = tickets_of(app, schedule_id)
    assert all(status == "held" for status, *_ in tickets.values())  # every ticket taken once, none twice
    elder_ids, referral_ids = set(elders), set(referred)
    for _, kept_for, _, pool, patient_id, appointment_status in tickets.values():
        assert appointment_status == "pending_payment"
        if kept_for == "elder":
            assert pool == "elder" and patient_id in elder_ids
        elif kept_for == "referral":
            assert pool == "referral" and patient_id in referral_ids
        else:
            assert pool is None  # a public ticket, whoever took it
    assert Counter(kept_for for _, kept_for, *_ in tickets.values()) == {None: 18, "elder": 6, "referral": 6}
    with app.app_context():
        public_patients = {p for _, p, _ in public}
        public_tickets = db.session.scalars(sa.select(Ticket.reserved_for).join(
            Appointment, Appointment.id == Ticket.appointment_id).where(
            Appointment.patient_id.in_(public_patients))).all()
        assert set(public_tickets) <= {None} and len(public_tickets) == len(booked["public"])
        assert db.session.get(Schedule, schedule_id).available == 0


def test_a_release_racing_with_bookings_moves_exactly_the_unused_kept_tickets(app):
    release = now() + timedelta(hours=1)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.4, "release_at": release}}, capacity=30)
    before, after = release - timedelta(seconds=1), release + timedelta(seconds=1)
    early = patients(app, [(n, elder_id(n)) for n in range(640, 643)])
    for patient_id in early:  # three elders used their pool before the release
        assert attempt(app, lambda p=patient_id: services.book(None, p, schedule_id, before, via="kiosk:k1"))\
            .startswith("apt")
    late = patients(app, [(n, resident_id(n)) for n in range(750, 850)])
    works = [("book", lambda p=p: services.book(None, p, schedule_id, after, via="kiosk:k1")) for p in late]
    for i in range(6):  # several release jobs at once, among the bookings
        works.insert(8 + i * 12, ("release", lambda: pools.release_job(after, batch=1)))

    def run(work):
        kind, call = work
        if kind == "release":
            with app.app_context():
                return kind, call()
        return kind, attempt(app, call)

    with ThreadPoolExecutor(max_workers=threads_for(app)) as pool:
        results = list(pool.map(run, works))
    moved = sum(counts.get("elder", 0) for kind, counts in results if kind == "release")
    taken = [r for kind, r in results if kind == "book" and r.startswith("apt")]
    assert len(taken) == 27 and Counter(r for kind, r in results if kind == "book" and not r.startswith("apt")) \
        == {"sold_out": 73}
    tickets = tickets_of(app, schedule_id)
    released = [t for t in tickets.values() if t[2] == "elder"]
    taken_kept = [t for t in tickets.values() if t[1] == "elder" and t[3] is None]  # public, released, not yet moved
    used_by_pool = [t for t in tickets.values() if t[1] == "elder" and t[3] == "elder"]
    assert moved == len(released)  # each ticket moved by exactly one job run
    assert len(used_by_pool) == 3 and moved + len(taken_kept) + len(used_by_pool) == 12
    assert not [t for t in tickets.values() if t[0] == "free"]
    assert all(status == "held" for status, *_ in tickets.values())
    with app.app_context():
        assert pools.release_job(after) == {}
        assert db.session.get(Schedule, schedule_id).available == 0


def test_a_pool_change_never_deadlocks_with_a_booking_that_holds_a_kept_ticket(app):
    """A booking holds its ticket from the claim on and takes the schedule's row last (tickets.taken); a change of the
    pools holds that row and moves free tickets. On PostgreSQL the change does not wait for the booking's ticket
    (waiting, the two would deadlock); SQLite lets one writer in at a time, so there the change waits its turn."""
    release = now() + timedelta(hours=1)
    schedule_id = pooled_schedule(app, {"elder": {"share": 0.4, "release_at": release}}, capacity=10)
    later = {"elder": {"share": 0.4, "release_at": release + timedelta(minutes=30)}}
    changed = []

    def change():
        with app.app_context():
            reservations.change(db.session.get(Schedule, schedule_id), later)
            db.session.commit()
            changed.append(True)

    with app.app_context():  # the booking, stopped between its claim and its last statement
        schedule = db.session.get(Schedule, schedule_id)
        ticket, was_free = tickets.claim(schedule, "apt_inflight", now(), now() + timedelta(minutes=15),
                                         from_pools=("elder",), public=False)
        assert ticket is not None and was_free and ticket.reserved_for == "elder"
        other = threading.Thread(target=change)
        other.start()
        if is_postgres(app):
            other.join(10)
            done_first = bool(changed)
            if not done_first:
                db.session.rollback()  # let the change go, then fail
                other.join(10)
            assert done_first, "the pool change waited for the booking's ticket"
        tickets.taken(schedule_id)
        db.session.commit()
    other.join(10)
    assert changed == [True]
    with app.app_context():
        rows = db.session.execute(sa.select(Ticket.status, Ticket.release_at).where(
            Ticket.schedule_id == schedule_id, Ticket.reserved_for == "elder")).all()
        assert sorted(status for status, _ in rows) == ["free", "free", "free", "held"]
        assert {at for status, at in rows if status == "free"} == {release + timedelta(minutes=30)}
        assert db.session.get(Schedule, schedule_id).available == 9
