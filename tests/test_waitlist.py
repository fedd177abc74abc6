"""候补 (waitlist) and 一次挂号三日免费 (free revisit within 3 days)."""
import threading
import time
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from patient_api.billing.gateway import pay_gateway
from patient_api.booking import offers
from patient_api.booking.models import Appointment, WaitlistEntry
from patient_api.common.clock import now, today_local
from patient_api.common.outbox import OutboxMessage
from patient_api.directory.models import Schedule, Ticket
from patient_api.extensions import db

from .conftest import is_postgres
from .inpatient import NOTIFY, in_db

WAIT = "/api/v1/waitlist"
# A schedule's queue closes at 23:00 the day before: waitlists here are for a schedule two days ahead, open whatever
# the hour the suite runs (tomorrow's closed for the last hour of every Beijing day and failed these tests then).
OPEN_DAYS = 2


def book(client, headers, schedule_id, patient_id):
    return client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                       headers=headers)


def join(client, headers, schedule_id, patient_id):
    return client.post(WAIT, json={"schedule_id": schedule_id, "patient_id": patient_id}, headers=headers)


def lapse_holds(app):
    """Every unpaid hold runs out now (as if 15 minutes had passed) and the sweeper frees the tickets."""
    from patient_api.booking.lifecycle import sweep_expired_holds
    with app.app_context():
        db.session.execute(sa.update(Appointment).where(Appointment.status == "pending_payment")
                           .values(hold_expires_at=now() - timedelta(seconds=1)))
        db.session.commit()
        return sweep_expired_holds()


def run_offers(app, instant=None):
    with app.app_context():
        counts = offers.run(instant)
        db.session.commit()
        return counts


def test_freed_ticket_goes_to_the_first_waiter_then_passes_on(app, client, make):
    schedule_id = make.schedule(fee_fen=1200, capacity=1, days_ahead=OPEN_DAYS)
    holder, holder_patient = make.resident()
    assert book(client, holder, schedule_id, holder_patient).status_code == 201
    (b, b_patient), (c, c_patient), (d, d_patient) = make.resident(), make.resident(), make.resident()
    assert book(client, b, schedule_id, b_patient).json["code"] == "sold_out"
    first = join(client, b, schedule_id, b_patient)
    assert first.status_code == 201 and (first.json["status"], first.json["position"]) == ("waiting", 1)
    assert join(client, c, schedule_id, c_patient).json["position"] == 2
    assert join(client, b, schedule_id, b_patient).json["code"] == "already_waiting"

    assert lapse_holds(app) == 1  # the holder never paid: the ticket is free, but kept for the waiters
    assert book(client, d, schedule_id, d_patient).json["code"] == "sold_out"
    assert run_offers(app)["offered"] == 1
    offered = client.get(WAIT, headers=b).json["items"][0]
    assert offered["status"] == "offered" and offered["position"] is None
    hold = client.get(f"/api/v1/appointments/{offered['appointment_id']}", headers=b).json
    assert hold["status"] == "pending_payment" and hold["bill_id"] and hold["hold_expires_at"]
    assert client.get(WAIT, headers=c).json["items"][0]["position"] == 1

    assert lapse_holds(app) == 1  # B does not pay either: the offer passes on to C
    assert run_offers(app) == {"closed": 0, "settled": 1, "offered": 1, "lapsed": 0}
    assert client.get(WAIT, headers=b).json["items"][0]["status"] == "expired"
    c_entry = client.get(WAIT, headers=c).json["items"][0]
    c_hold = client.get(f"/api/v1/appointments/{c_entry['appointment_id']}", headers=c).json
    order = client.post(f"/api/v1/bills/{c_hold['bill_id']}/payments", json={"method": "wechat_jsapi"}, headers=c)
    with app.app_context():
        wire = pay_gateway()[1].simulate_payment(order.json["out_trade_no"], None, time.time())
    assert client.post(NOTIFY, data=wire[1], headers=wire[0]).status_code == 204
    assert run_offers(app)["settled"] == 1
    assert client.get(WAIT, headers=c).json["items"][0]["status"] == "booked"

    def check():
        events = db.session.execute(sa.select(OutboxMessage.event, OutboxMessage.destination)
                                    .filter_by(channel="wechat_message", event="waitlist.offer")).all()
        assert len(events) == 2
        schedule = db.session.get(Schedule, schedule_id)
        assert schedule.available == 0 and db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
            Ticket.schedule_id == schedule_id, Ticket.status == "booked")) == 1
    in_db(app, check)


def test_waiting_rules(app, client, make):
    roomy = make.schedule(capacity=5, days_ahead=OPEN_DAYS)
    full = make.schedule(capacity=1, days_ahead=OPEN_DAYS)
    headers, patient_id = make.resident()
    assert join(client, headers, roomy, patient_id).json["code"] == "tickets_available"
    other, other_patient = make.resident()
    book(client, other, full, other_patient)
    assert join(client, other, full, other_patient).json["code"] == "already_booked"
    entry = join(client, headers, full, patient_id).json
    stranger, _ = make.resident()
    assert client.delete(f"{WAIT}/{entry['id']}", headers=stranger).json["code"] == "waitlist_entry_not_found"
    assert client.delete(f"{WAIT}/{entry['id']}", headers=headers).json["status"] == "cancelled"
    assert client.delete(f"{WAIT}/{entry['id']}", headers=headers).json["code"] == "waitlist_not_cancellable"
    for days in (3, 4, 5):
        schedule_id = make.schedule(capacity=1, days_ahead=days)
        book(client, other, schedule_id, other_patient)
        assert join(client, headers, schedule_id, patient_id).status_code == 201
    sixth = make.schedule(capacity=1, days_ahead=6)
    book(client, other, sixth, other_patient)
    assert join(client, headers, sixth, patient_id).json["code"] == "waitlist_limit"


def test_queue_closes_at_23_00_the_day_before(app, client, make):
    schedule_id = make.schedule(capacity=1, days_ahead=OPEN_DAYS, fee_fen=0)  # booked outright: no hold lapses
    holder, holder_patient = make.resident()
    book(client, holder, schedule_id, holder_patient)
    headers, patient_id = make.resident()
    joined = join(client, headers, schedule_id, patient_id).json
    from patient_api.booking.waitlist import cutoff
    day = today_local() + timedelta(days=OPEN_DAYS)
    eve = (day - timedelta(days=1)).isoformat()
    assert joined["closes_at"] == f"{eve}T23:00:00+08:00"  # the page states the cutoff
    assert run_offers(app, cutoff(day) - timedelta(minutes=1))["closed"] == 0
    assert run_offers(app, cutoff(day) + timedelta(minutes=1))["closed"] == 1
    assert client.get(WAIT, headers=headers).json["items"][0]["status"] == "closed"


def test_waiter_who_booked_elsewhere_is_skipped(app, client, make):
    schedule_id = make.schedule(capacity=1, fee_fen=0, days_ahead=2)  # before the cancel deadline
    holder, holder_patient = make.resident()
    appointment = book(client, holder, schedule_id, holder_patient).json
    (b, b_patient), (c, c_patient) = make.resident(), make.resident()
    join(client, b, schedule_id, b_patient)
    join(client, c, schedule_id, c_patient)
    other_doctor = make.schedule(capacity=3, fee_fen=0, days_ahead=2)  # same department and day, another doctor
    assert book(client, b, other_doctor, b_patient).status_code == 201
    assert client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=holder).status_code == 200
    assert run_offers(app) == {"closed": 0, "settled": 0, "offered": 1, "lapsed": 1}
    b_entry, c_entry = client.get(WAIT, headers=b).json["items"][0], client.get(WAIT, headers=c).json["items"][0]
    assert (b_entry["status"], b_entry["reason"]) == ("lapsed", "already_booked")
    assert c_entry["status"] == "offered"  # a free clinic: the offer is a booking at once
    assert client.get(f"/api/v1/appointments/{c_entry['appointment_id']}", headers=c).json["status"] == "booked"
    offers_sent = in_db(app, lambda: db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                                                       .filter_by(event="waitlist.offer")))
    assert offers_sent == 0  # nothing to pay: the waiter hears booking.confirmed instead


def test_parallel_offer_runs_give_each_freed_ticket_once_in_join_order(app, client, make):
    freed, waiters = 5, 12
    schedule_id = make.schedule(capacity=freed, fee_fen=1200, days_ahead=OPEN_DAYS)
    for _ in range(freed):
        headers, patient_id = make.resident()
        book(client, headers, schedule_id, patient_id)
    queue = []
    for _ in range(waiters):
        headers, patient_id = make.resident()
        queue.append(join(client, headers, schedule_id, patient_id).json["id"])
    assert lapse_holds(app) == freed
    runs = 4 if is_postgres(app) else 2
    barrier, results = threading.Barrier(runs), []

    def worker():
        barrier.wait()
        with app.app_context():
            results.append(offers.run())
            db.session.commit()
    threads = [threading.Thread(target=worker) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(r["offered"] for r in results) == freed and sum(r["lapsed"] for r in results) == 0

    def check():
        entries = {e.id: e for e in db.session.scalars(sa.select(WaitlistEntry))}
        assert [entries[i].status for i in queue] == ["offered"] * freed + ["waiting"] * (waiters - freed)
        holds = Counter(t.status for t in db.session.scalars(sa.select(Ticket).filter_by(schedule_id=schedule_id)))
        assert holds == {"held": freed} and db.session.get(Schedule, schedule_id).available == 0
        offered = [entries[i].appointment_id for i in queue[:freed]]
        assert len(set(offered)) == freed
    in_db(app, check)


def test_revisit_within_three_days_is_free(app, client, make):
    headers, patient_id = make.resident()
    first = book(client, headers, make.schedule(days_ahead=1, fee_fen=1200), patient_id).json
    with app.app_context():  # the first visit was paid and attended
        db.session.execute(sa.update(Appointment).where(Appointment.id == first["id"])
                           .values(status="checked_in", hold_expires_at=None))
        db.session.commit()
    revisit = book(client, headers, make.schedule(days_ahead=3, fee_fen=1200), patient_id).json
    assert (revisit["fee_fen"], revisit["status"], revisit["bill_id"], revisit["free_revisit_of"]) == (
        0, "booked", None, first["id"])
    later = book(client, headers, make.schedule(days_ahead=5, fee_fen=1200), patient_id).json
    assert (later["fee_fen"], later["status"], later["free_revisit_of"]) == (1200, "pending_payment", None)
    elsewhere = book(client, headers, make.schedule(days_ahead=2, fee_fen=1200, department_code="WK"),
                     patient_id).json
    assert elsewhere["fee_fen"] == 1200  # another department is a new consultation


def test_revisit_needs_an_attended_visit(app, client, make):
    headers, patient_id = make.resident()
    book(client, headers, make.schedule(days_ahead=1, fee_fen=1200), patient_id)  # booked, never attended
    assert book(client, headers, make.schedule(days_ahead=2, fee_fen=1200), patient_id).json["fee_fen"] == 1200


def test_a_lapsed_hold_not_yet_swept_still_goes_to_the_waiter(app, client, make):
    schedule_id = make.schedule(fee_fen=1200, capacity=1, days_ahead=OPEN_DAYS)
    holder, holder_patient = make.resident()
    book(client, holder, schedule_id, holder_patient)
    (b, b_patient), (d, d_patient) = make.resident(), make.resident()
    join(client, b, schedule_id, b_patient)
    with app.app_context():  # the hold runs out; the sweeper has not been by yet, so `available` still says 0
        db.session.execute(sa.update(Appointment).values(hold_expires_at=now() - timedelta(seconds=1)))
        db.session.commit()
    assert book(client, d, schedule_id, d_patient).json["code"] == "sold_out"
    assert run_offers(app)["offered"] == 1
    assert client.get(WAIT, headers=b).json["items"][0]["status"] == "offered"
    events = in_db(app, lambda: db.session.scalars(sa.select(OutboxMessage.event)
                                                   .filter_by(event="waitlist.offer")).all())
    assert events == ["waitlist.offer"]
