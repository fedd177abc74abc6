"""The resident's 立即结算 tap against the automatic deduction, raced with real threads on the real database
(PostgreSQL when DATABASE_URL points at it): each settlement is charged exactly once, at WeChat and in our books."""
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from patient_api.billing.gateway import pay_gateway
from patient_api.billing.models import Payment
from patient_api.common.clock import now
from patient_api.credit import deductions, jobs
from patient_api.credit.models import CreditBill, CreditSettlement
from patient_api.extensions import db

from .conftest import is_postgres
from .credit import World, check_books, credit_path


@pytest.fixture
def world(app, client, make):
    return World(app, client, make)


def wechat_charges(app, out_trade_nos):
    """Orders WeChat (the sandbox) actually charged among these numbers."""
    with app.app_context():
        _, sandbox = pay_gateway()
        return sum(sandbox.query(n)["trade_state"] == "SUCCESS" for n in out_trade_nos)


def test_tap_against_the_deduction_job_charges_each_settlement_once(app, client, world):
    patients = 6 if is_postgres(app) else 3
    people = []
    for _ in range(patients):
        headers, patient_id, person = world.enrolled()
        world.sign_contract(headers, patient_id)
        world.bill(person, 2100)
        world.bill(person, 900)
        people.append((headers, patient_id))
    with app.app_context():  # the day ended: every patient has a settlement waiting for its deduction
        db.session.execute(sa.update(CreditBill).values(created_at=now() - timedelta(days=1)))
        db.session.commit()
        assert jobs.close_days()["settled"] == patients
        settlements = {row.patient_id: row.id for row in db.session.scalars(sa.select(CreditSettlement))}
    barriers = {patient_id: threading.Barrier(3) for _, patient_id in people}

    def tap(headers, patient_id):
        barriers[patient_id].wait()
        response = app.test_client().post(credit_path(patient_id, "/settlements"), headers=headers,
                                          json={"hospital_id": world.hospital_id})
        if response.status_code == 409:  # the deduction finished first: nothing left to settle
            assert response.json["code"] == "credit_nothing_to_settle"
            return "nothing"
        assert response.status_code == 201, response.json
        return response.json["result"]

    def worker(patient_id):
        barriers[patient_id].wait()
        with app.app_context():
            try:
                return deductions.attempt(settlements[patient_id])
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=3 * patients) as pool:
        taps = [pool.submit(tap, h, p) for h, p in people] + [pool.submit(tap, h, p) for h, p in people]
        workers = [pool.submit(worker, p) for _, p in people]
        tapped = Counter(f.result() for f in taps)
        worked = Counter(f.result() for f in workers)
    assert set(tapped) <= {"deducted", "deducting", "nothing"}, tapped
    assert set(worked) <= {"paid", "skipped"}, worked
    with app.app_context():  # one more pass settles anything still under way, as the worker would
        deductions.run(now() + timedelta(minutes=5))
        numbers = db.session.scalars(sa.select(Payment.out_trade_no).where(Payment.method == "wechat_papay")).all()
        rows = db.session.scalars(sa.select(CreditSettlement)).all()
        assert [row.status for row in rows] == ["paid"] * patients
        for row in rows:
            kept = db.session.scalars(sa.select(Payment).where(Payment.bill_id == row.bill_id,
                                                               Payment.status == "paid")).all()
            assert [(p.method, p.overpaid, p.amount_fen) for p in kept] == [("wechat_papay", False, 3000)]
        db.session.rollback()
    assert len(numbers) == patients  # one attempt per settlement: nobody started a second one
    assert wechat_charges(app, numbers) == patients
    check_books(app)


def test_a_replayed_deduction_notification_racing_the_query_applies_once(app, client, world):
    headers, patient_id, person = world.enrolled()
    world.sign_contract(headers, patient_id)
    world.bill(person, 4500)
    with app.app_context():
        db.session.execute(sa.update(CreditBill).values(created_at=now() - timedelta(days=1)))
        db.session.commit()
        jobs.close_days()
        settlement_id = db.session.scalars(sa.select(CreditSettlement.id)).one()
        attempt = deductions.begin(settlement_id)
        db.session.commit()
        assert deductions.send(attempt) is None  # WeChat charged; its answer is now sought by every path at once
        wire = pay_gateway()[1].deduction_notification(attempt["out_trade_no"], time.time())
    copies = 6 if is_postgres(app) else 3
    start = threading.Barrier(copies + 1)

    def deliver():
        start.wait()
        return app.test_client().post("/api/v1/payments/wechatpay/notify", data=wire[1],
                                      headers=wire[0]).status_code

    def follow():
        start.wait()
        with app.app_context():
            try:
                return deductions.follow(settlement_id)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=copies + 1) as pool:
        delivered = [pool.submit(deliver) for _ in range(copies)]
        followed = pool.submit(follow)
        assert [f.result() for f in delivered] == [204] * copies
        assert followed.result() == "paid"
    with app.app_context():
        txns = db.session.execute(sa.text("SELECT count(*) FROM ledger_transactions WHERE kind = 'payment' "
                                          "AND source_id = :s"), {"s": db.session.get(
                                              CreditSettlement, settlement_id).deduction_payment_id}).scalar()
        assert txns == 1
    check_books(app)
