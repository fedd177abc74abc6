"""Hypothesis stateful test: any sequence of pay / notify / replay / lost notify / refund / expire / cancel
keeps the money and the tickets right (refunded ≤ paid, ledger balanced to the fen, no ticket twice)."""
import os
import time
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from patient_api.billing import jobs, ledger
from patient_api.billing.gateway import pay_gateway
from patient_api.billing.models import Bill, Payment
from patient_api.billing.refunds import request_refund
from patient_api.booking import lifecycle
from patient_api.booking.models import ACTIVE, Appointment
from patient_api.common.clock import now
from patient_api.directory.models import Schedule, Ticket
from patient_api.errors import ApiError
from patient_api.extensions import db

from .test_payments import NOTIFY


def money_machine(app, make):
    """A state machine bound to this test's app and factories."""

    class Money(RuleBasedStateMachine):
        appointments = Bundle("appointments")
        orders = Bundle("orders")

        def __init__(self):
            super().__init__()
            self.client = app.test_client()
            self.schedule_id = make.schedule(fee_fen=1200, capacity=3, days_ahead=3)
            self.residents = []

        @rule(target=appointments)
        def book(self):
            headers, patient_id = make.resident()
            response = self.client.post("/api/v1/appointments", headers=headers,
                                        json={"schedule_id": self.schedule_id, "patient_id": patient_id})
            assert response.status_code in (201, 409), response.json
            return (headers, response.json) if response.status_code == 201 else None

        @rule(target=orders, booked=appointments, method=st.sampled_from(["wechat_jsapi", "wechat_native"]))
        def start_payment(self, booked, method):
            if booked is None:
                return None
            headers, appointment = booked
            response = self.client.post(f"/api/v1/bills/{appointment['bill_id']}/payments", headers=headers,
                                        json={"method": method})
            assert response.status_code in (201, 409), response.json
            return response.json["out_trade_no"] if response.status_code == 201 else None

        def _pay(self, out_trade_no):
            with app.app_context():
                _, sandbox = pay_gateway()
                try:
                    return sandbox.simulate_payment(out_trade_no, None, time.time())
                except Exception:  # closed or expired at "WeChat": the resident could not pay
                    return None

        @rule(order=orders, copies=st.integers(1, 3))
        def pay_and_notify(self, order, copies):
            wire = order and self._pay(order)
            for _ in range(copies if wire else 0):
                assert self.client.post(NOTIFY, data=wire[1], headers=wire[0]).status_code == 204

        @rule(order=orders)
        def pay_but_notification_lost(self, order):
            if order:
                self._pay(order)

        @rule()
        def worker_queries(self):
            with app.app_context():
                jobs.query_payments(instant=now() + timedelta(hours=1))

        @rule(order=orders, share=st.integers(1, 1200))
        def partial_refund(self, order, share):
            with app.app_context():
                payment = order and db.session.scalars(sa.select(Payment).filter_by(out_trade_no=order)).first()
                if payment is None:
                    return
                try:
                    request_refund(payment.id, share, f"P{payment.refund_count}{order}", "部分退款")
                    db.session.commit()
                except ApiError:
                    db.session.rollback()
                jobs.submit_refunds()

        @rule(booked=consumes(appointments))
        def cancel(self, booked):
            if booked:
                headers, appointment = booked
                response = self.client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=headers)
                assert response.status_code in (200, 409)
                with app.app_context():
                    jobs.submit_refunds()

        @rule()
        def holds_expire(self):
            with app.app_context():
                db.session.execute(sa.update(Appointment).where(Appointment.status == "pending_payment")
                                   .values(hold_expires_at=now() - timedelta(seconds=1)))
                db.session.execute(sa.update(Payment).where(Payment.status == "created")
                                   .values(expires_at=now() - timedelta(seconds=1)))
                db.session.commit()
                lifecycle.sweep_expired_holds()
                jobs.query_payments(instant=now() + timedelta(hours=1))

        @invariant()
        def money_and_tickets_are_right(self):
            with app.app_context():
                for payment in db.session.scalars(sa.select(Payment)):
                    done = sum(r.amount_fen for r in payment.refunds if r.status == "succeeded")
                    assert done <= payment.refunded_fen <= (payment.amount_fen if payment.status == "paid" else 0)
                sums = db.session.execute(sa.text(
                    "SELECT transaction_id, SUM(amount_fen) FROM ledger_entries GROUP BY transaction_id")).all()
                assert all(total == 0 for _, total in sums)
                paid_txns = db.session.execute(sa.text(
                    "SELECT source_id, COUNT(*) FROM ledger_transactions WHERE kind = 'payment' "
                    "GROUP BY source_id")).all()
                assert all(n == 1 for _, n in paid_txns)
                for ticket in db.session.scalars(sa.select(Ticket).where(Ticket.schedule_id == self.schedule_id)):
                    holders = db.session.scalars(sa.select(Appointment).where(
                        Appointment.ticket_id == ticket.id, Appointment.status.in_(ACTIVE))).all()
                    assert len(holders) <= 1
                    if ticket.status == "free":
                        assert holders == [] and ticket.appointment_id is None
                    else:
                        assert [a.id for a in holders] == [ticket.appointment_id]
                        assert (ticket.status == "booked") == (holders[0].status != "pending_payment")
                free = db.session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(
                    Ticket.schedule_id == self.schedule_id, Ticket.status == "free"))
                assert db.session.get(Schedule, self.schedule_id).available == free
                for bill in db.session.scalars(sa.select(Bill)):
                    stored = "unpaid" if bill.status == "paying" else bill.status  # no money moved yet either way
                    assert stored == ledger.derived_status(bill.id), bill.id

    return Money


def test_money_state_machine(app, make):
    """Each example adds its own schedule and residents; the invariants hold over everything stored."""
    machine = money_machine(app, make)
    examples = int(os.environ.get("MONEY_EXAMPLES", "25"))  # raise it for a deeper run
    machine.TestCase.settings = settings(max_examples=examples, stateful_step_count=15, deadline=None,
                                         suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()
