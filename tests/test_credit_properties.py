"""Hypothesis stateful test of 先诊疗后付费: any sequence of enrol / HIS bill / settle by JSAPI / settle by deduction
/ deduction fails / notification replay / overdue (a clock moved on) / suspend / repay keeps the books right: every
ledger transaction sums to 0, the resident's debt on credit equals open credit, open credit ≤ limit, one payment
(at most one successful deduction) per settlement, and a suspended resident gets no new credit anywhere."""
import os
import time
from datetime import timedelta

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from patient_api.billing.gateway import pay_gateway
from patient_api.billing.models import Payment
from patient_api.common.clock import now
from patient_api.credit import consent, deductions, jobs, policy
from patient_api.credit.models import UNPAID, CreditBill, CreditContract, CreditEnrolment, CreditSettlement
from patient_api.extensions import db

from .conftest import is_postgres
from .credit import World, check_books, credit_path


def credit_machine(app, client, make):
    """A state machine over one resident per example, enrolled city-wide, billed at two hospitals."""
    here, there = World(app, client, make, "H1"), World(app, client, make, "H2")
    cashier = here.cashier()

    class Credit(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.headers, self.patient_id, self.person = here.enrolled(city=True)
            self.orders, self.wires = [], []

        def _in(self, fn):
            with app.app_context():
                try:
                    return fn()
                finally:
                    db.session.rollback()

        def _count(self, sql):
            return self._in(lambda: db.session.execute(sa.text(sql), {"p": self.patient_id}).scalar())

        def owes(self):
            """Bills on credit not yet paid."""
            return self._count("SELECT count(*) FROM credit_bills WHERE patient_id = :p "
                               "AND status IN ('open', 'settling')") > 0

        def has_contract(self):
            return self._count("SELECT count(*) FROM credit_contracts WHERE patient_id = :p "
                               "AND status = 'active'") > 0

        def _openid(self):
            return self._in(lambda: db.session.scalars(sa.select(CreditContract.openid).filter_by(
                patient_id=self.patient_id)).first())

        @rule(join=st.booleans())
        def enrol_or_leave_here(self, join):
            """A hospital enrolment of its own (it then covers H1 instead of the city-wide one), or leaving it."""
            if join:
                response = client.post(credit_path(self.patient_id, "/enrolments"), headers=self.headers,
                                       json={"hospital_id": here.hospital_id, "consent_version": consent.VERSION})
                assert response.status_code in (201, 409), response.json
                if response.status_code == 409:
                    assert response.json["code"] in ("credit_blocked", "credit_overdue_elsewhere")
                return
            enrolment_id = self._in(lambda: db.session.scalars(sa.select(CreditEnrolment.id).filter_by(
                patient_id=self.patient_id, scope=here.hospital_id, status="active")).first())
            if enrolment_id:
                response = client.delete(credit_path(self.patient_id, f"/enrolments/{enrolment_id}"),
                                         headers=self.headers)
                assert response.status_code in (200, 409), response.json
                if response.status_code == 409:
                    assert response.json["code"] == "credit_open_bills"

        @rule(at_here=st.booleans(), fen=st.integers(100, 40_000))
        def his_bill(self, at_here, fen):
            world = here if at_here else there
            refused = self._in(lambda: policy.refusal(self.patient_id, world.hospital_id, now()))
            bill = world.bill(self.person, fen)
            if refused is not None:  # suspended or overdue: no new credit anywhere
                assert bill["hold"] is None

        @precondition(lambda self: self.owes())
        @rule(at_here=st.booleans(), pay=st.booleans())
        def tap_settle(self, at_here, pay):
            world = here if at_here else there
            response = client.post(credit_path(self.patient_id, "/settlements"), headers=self.headers,
                                   json={"hospital_id": world.hospital_id})
            assert response.status_code in (201, 409), response.json
            if response.status_code == 409:
                assert response.json["code"] in ("credit_nothing_to_settle", "credit_deduction_in_progress")
            elif response.json["payment"]:
                self.orders.append(response.json["payment"]["out_trade_no"])
                if pay:  # the resident pays at once in the wallet
                    self.pay_in_wallet(len(self.orders) - 1, 1)

        @precondition(lambda self: self.orders)
        @rule(index=st.integers(0, 50), copies=st.integers(1, 2))
        def pay_in_wallet(self, index, copies):
            if not self.orders:
                return
            out_trade_no = self.orders[index % len(self.orders)]
            try:
                wire = here.pay_at_wechat(out_trade_no)
            except Exception:  # closed or expired at WeChat: the resident could not pay
                return
            self.wires.append(wire)
            for _ in range(copies):
                here.notify(wire)

        @precondition(lambda self: self.wires)
        @rule()
        def replay_notifications(self):
            for wire in self.wires[-5:]:
                here.notify(wire)

        @rule()
        def sign_contract(self):
            if client.get(credit_path(self.patient_id), headers=self.headers).json["contract"] is None:
                here.sign_contract(self.headers, self.patient_id)

        @precondition(lambda self: self.has_contract())
        @rule()
        def end_contract(self):
            contract_id = self._in(lambda: db.session.scalars(sa.select(CreditContract.contract_id).filter_by(
                patient_id=self.patient_id, status="active")).first())
            if contract_id:
                with app.app_context():
                    wire = pay_gateway()[1].simulate_user_termination(contract_id, time.time())
                here.notify(wire)

        @precondition(lambda self: self.has_contract())
        @rule(enough=st.booleans())
        def wallet(self, enough):
            openid = self._openid()
            if openid:
                here.wallet(openid, None if enough else 0)

        @precondition(lambda self: self.owes())
        @rule()
        def day_ends(self):
            with app.app_context():
                db.session.execute(sa.update(CreditBill).where(CreditBill.status == "open").values(
                    created_at=now() - timedelta(days=1)))
                db.session.commit()
                jobs.close_days()

        @precondition(lambda self: self.has_contract())
        @rule(hours=st.sampled_from([0, 1, 7]))
        def worker_deducts(self, hours):
            with app.app_context():
                deductions.run(now() + timedelta(hours=hours))

        @precondition(lambda self: self.has_contract())
        @rule()
        def deduction_notifications_replayed(self):
            with app.app_context():
                numbers = db.session.scalars(sa.select(Payment.out_trade_no).filter_by(
                    method="wechat_papay", status="paid")).all()
                wires = [pay_gateway()[1].deduction_notification(n, time.time()) for n in numbers[-3:]]
            for wire in wires:
                here.notify(wire)

        @precondition(lambda self: self.owes())
        @rule(days=st.sampled_from([1, 3, 8, 16]))
        def time_passes(self, days):
            """The clock moves on for unpaid settlements: reminders, and past the grace period suspension."""
            with app.app_context():
                for row in db.session.scalars(sa.select(CreditSettlement).where(
                        CreditSettlement.status.in_(UNPAID))):
                    row.due_at = row.due_at - timedelta(days=days)
                db.session.commit()
                jobs.remind_and_suspend(now())

        def suspended_here(self):
            return self._count("SELECT count(*) FROM credit_blocks WHERE patient_id = :p AND reason = 'staff' "
                               "AND status = 'active'") > 0

        @precondition(lambda self: not self.suspended_here())
        @rule()
        def cashier_suspends(self):
            response = client.post(f"/api/v1/staff/credit/patients/{self.patient_id}/suspension", headers=cashier,
                                   json={"note": "欠费"})
            assert response.status_code in (201, 404), response.json  # 404: no bill here yet

        @precondition(lambda self: self.suspended_here())
        @rule()
        def cashier_lifts(self):
            response = client.delete(f"/api/v1/staff/credit/patients/{self.patient_id}/suspension", headers=cashier)
            assert response.status_code == 200, response.json

        @precondition(lambda self: self.owes())
        @rule()
        def window_settles(self):
            response = client.post(f"/api/v1/staff/credit/patients/{self.patient_id}/settlements", headers=cashier)
            assert response.status_code in (201, 404, 409), response.json

        @precondition(lambda self: self.owes())
        @rule(index=st.integers(0, 50))
        def his_voids(self, index):
            rows = self._in(lambda: db.session.execute(sa.text(
                "SELECT b.order_no, b.hospital_id FROM credit_bills c JOIN bills b ON b.id = c.bill_id "
                "WHERE c.patient_id = :p AND c.status IN ('open', 'settling') ORDER BY b.order_no"),
                {"p": self.patient_id}).all())
            if rows:
                order_no, hospital_id = rows[index % len(rows)]
                world = here if hospital_id == here.hospital_id else there
                response = client.post(f"/api/v1/integration/bills/{order_no}/void", headers=world.his)
                assert response.status_code == 200, response.json

        @invariant()
        def books_are_right(self):
            check_books(app)
            with app.app_context():
                deducted = db.session.execute(sa.select(Payment.bill_id, sa.func.count()).where(
                    Payment.method == "wechat_papay", Payment.status == "paid").group_by(Payment.bill_id)).all()
                assert all(n == 1 for _, n in deducted)
                db.session.rollback()

    return Credit


def test_credit_state_machine(app, client, make):
    machine = credit_machine(app, client, make)
    # Raise CREDIT_EXAMPLES for a deeper run (150 take about 10 minutes); PostgreSQL's round trips cost more.
    examples = int(os.environ.get("CREDIT_EXAMPLES", "10" if is_postgres(app) else "20"))
    machine.TestCase.settings = settings(max_examples=examples, stateful_step_count=20, deadline=None,
                                         suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()


