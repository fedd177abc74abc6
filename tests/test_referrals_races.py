"""Referral tickets under concurrency (real threads on the real database; PostgreSQL in CI): N referrers racing for
the last K kept tickets of a schedule get exactly K, the losers 409 referral_tickets_gone with no referral stored,
and the public never gets a kept ticket before its release."""
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from patient_api.booking.models import Appointment
from patient_api.directory.models import Ticket
from patient_api.extensions import db
from patient_api.referrals.models import Referral

from .pools import pooled_schedule
from .referrals import API, CITY, CLINIC, CLINIC2, KEPT, World, staff
from .test_races import BOOK, residents, threads_for


def test_referrers_racing_for_the_last_kept_tickets_get_exactly_that_many(app, client, make):
    w = World(app, client, make, capacity=20)  # 20 % of 20: four kept
    w.send(w.up(report_ids=[]))  # one is taken already: three left
    referrers = [staff(app, client, code) for code in (CLINIC, CLINIC2) for _ in range(3)]
    people = [w.resident(verified=False)[2] for _ in range(12)]

    def send(n):
        body = w.up(id_number=people[n], report_ids=[])
        response = app.test_client().post(f"{API}/staff/referrals", json=body, headers=referrers[n % len(referrers)])
        return response.status_code, response.json.get("id") or response.json["code"]

    with ThreadPoolExecutor(max_workers=threads_for(app)) as pool:
        results = list(pool.map(send, range(len(people))))
    won = [ref for status, ref in results if status == 201]
    lost = [code for status, code in results if status != 201]
    assert len(won) == 3 and lost == ["referral_tickets_gone"] * 9, results
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == 4
        pools = db.session.scalars(sa.select(Appointment.pool).where(
            Appointment.schedule_id == w.schedule_id, Appointment.status.in_(("pending_payment", "booked")))).all()
        assert pools == ["referral"] * 4
        free = db.session.scalars(sa.select(Ticket.reserved_for).where(
            Ticket.schedule_id == w.schedule_id, Ticket.status == "free")).all()
        assert len(free) == 16 and set(free) == {None}  # every public ticket still free: none went to a referral


def test_the_public_never_gets_a_referral_ticket_before_release(app, client, make):
    w = World(app, client, make)
    schedule_id = pooled_schedule(app, KEPT, capacity=10, hospital_code=CITY, days_ahead=2)
    public = residents(app, 30, start=60_000)

    def book(entry):
        headers, patient_id, _ = entry
        response = app.test_client().post(BOOK, json={"schedule_id": schedule_id, "patient_id": patient_id},
                                          headers=headers)
        return response.status_code, response.json.get("pool") if response.status_code == 201 else \
            response.json["code"]

    with ThreadPoolExecutor(max_workers=threads_for(app)) as pool:
        results = list(pool.map(book, public))
    assert sorted(r for r in results if r[0] == 201) == [(201, None)] * 8
    assert {r for r in results if r[0] != 201} == {(409, "sold_out")}
    tickets = client.get(f"{API}/staff/referrals/tickets?hospital_id={w.hospital_id(CITY)}",
                         headers=w.clinic).json["items"]
    row = next(t for t in tickets if t["schedule_id"] == schedule_id)
    assert (row["referral_available"], row["public_available"]) == (2, 0)
    sent = w.send(w.up(schedule_id=schedule_id, report_ids=[]))
    assert sent["appointment"]["pool"] == "referral"
