"""Payment against expiry, raced with real threads on the real database: each ticket's fate is decided once."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from patient_api.billing import ledger
from patient_api.billing.gateway import pay_gateway
from patient_api.billing.models import Bill, Payment
from patient_api.booking import lifecycle
from patient_api.booking.models import Appointment
from patient_api.common.clock import now
from patient_api.directory.models import Schedule, Ticket
from patient_api.extensions import db

from .test_payments import NOTIFY, pay


def test_notification_and_hold_expiry_race_decides_each_ticket_once(app, client, make):
    orders = 20
    schedule_id = make.schedule(fee_fen=1200, capacity=orders)
    entries = []
    for _ in range(orders):
        headers, patient_id = make.resident()
        appointment = client.post("/api/v1/appointments", headers=headers,
                                  json={"schedule_id": schedule_id, "patient_id": patient_id}).json
        entries.append((appointment, pay(client, headers, appointment["bill_id"])))
    with app.app_context():
        _, sandbox = pay_gateway()
        wires = [sandbox.simulate_payment(order["out_trade_no"], None, time.time()) for _, order in entries]
        # Every hold has just lapsed: the sweeper and the payment now race for each ticket.
        db.session.execute(sa.update(Appointment).values(hold_expires_at=now() - timedelta(seconds=1)))
        db.session.commit()
    barriers = [threading.Barrier(2) for _ in entries]
    delivered_done, expired_done = [threading.Event() for _ in entries], [threading.Event() for _ in entries]
    # A third of the tickets let the payment go first, a third the expiry, a third race freely: both outcomes
    # are certain to occur, and the free third shows the race itself decides each ticket once.
    payment_first, expiry_first = (lambda i: i % 3 == 0), (lambda i: i % 3 == 1)

    def deliver(i):
        barriers[i].wait()
        if expiry_first(i):
            expired_done[i].wait(timeout=30)
        try:
            return app.test_client().post(NOTIFY, data=wires[i][1], headers=wires[i][0]).status_code
        finally:
            delivered_done[i].set()

    def expire(i):
        barriers[i].wait()
        if payment_first(i):
            delivered_done[i].wait(timeout=30)
        try:
            with app.app_context():
                freed = lifecycle.expire_hold(entries[i][0]["id"], now())
                db.session.commit()
                return freed
        finally:
            expired_done[i].set()

    with ThreadPoolExecutor(max_workers=2 * orders) as pool:
        delivered = [pool.submit(deliver, i) for i in range(orders)]
        expired = [pool.submit(expire, i) for i in range(orders)]
        statuses = [f.result() for f in delivered]
        freed = [f.result() for f in expired]
    assert statuses == [204] * orders
    assert all(freed[i] for i in range(orders) if expiry_first(i))
    assert not any(freed[i] for i in range(orders) if payment_first(i))
    with app.app_context():
        kept = 0
        for (appointment, order), was_freed in zip(entries, freed, strict=True):
            row = db.session.get(Appointment, appointment["id"])
            bill = db.session.get(Bill, appointment["bill_id"])
            payment = db.session.scalars(sa.select(Payment).filter_by(out_trade_no=order["out_trade_no"])).one()
            ticket = db.session.get(Ticket, row.ticket_id)
            assert payment.status == "paid"
            if was_freed:  # expiry won: ticket back in the pool, bill closed, the money goes back in full
                assert (row.status, bill.status, ticket.status) == ("expired", "closed", "free")
                assert payment.refunded_fen == 1200 and [r.status for r in payment.refunds] == ["processing"]
            else:  # payment won: booked on its ticket, nothing refunded
                kept += 1
                assert (row.status, bill.status, ticket.status) == ("booked", "paid", "booked")
                assert ticket.appointment_id == row.id and payment.refunded_fen == 0
            assert ledger.derived_status(bill.id) == bill.status
            assert sum(ledger.balances(bill.id).values()) == 0
        free = db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
            Ticket.schedule_id == schedule_id, Ticket.status == "free"))
        assert free == orders - kept == sum(freed)
        assert db.session.get(Schedule, schedule_id).available == free
