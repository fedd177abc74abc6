"""Two open payment orders of one insured person share one year: the deductible is met once, the personal account
spent once, whether the orders are opened one after the other or at the same instant."""
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from patient_api.billing.models import Payment
from patient_api.billing.presettlement import InsuredAccount
from patient_api.common.clock import today_local
from patient_api.extensions import db

from .factories import hospital_key
from .test_his_bills import his_bill
from .test_money_hardening import BIG, id_number, settle_in_sandbox
from .test_payments import pay

# 三级 employee insurance: deductible 600 元, the fund pays 50 % above it; the personal account holds 300 元.
DEDUCTIBLE, BALANCE = 60_000, 30_000


def insured_with_two_bills(app, client, make):
    """A verified resident with an insured account and two unpaid 1000 元 HIS bills: (headers, patient_id, bills)."""
    headers, patient_id = make.resident(verified=True)
    key = hospital_key(app)
    with app.app_context():
        db.session.add(InsuredAccount(patient_id=patient_id, insurance_type="employee", year=today_local().year,
                                      deductible_paid_fen=0, fund_paid_fen=0, account_balance_fen=BALANCE))
        db.session.commit()
    bills = [client.post("/api/v1/integration/bills", headers=key, json=his_bill(
        id_number(app, patient_id), order_no=f"MZ-{patient_id[-8:]}-{n}", items=BIG, insurance_type="employee")).json
        for n in (1, 2)]
    return headers, patient_id, bills


def splits(app, orders):
    with app.app_context():
        rows = [db.session.scalars(db.select(Payment).filter_by(out_trade_no=o["out_trade_no"])).one() for o in orders]
        return sorted((p.deductible_fen, p.insurance_fund_fen, p.personal_account_fen, p.amount_fen) for p in rows)


def check_one_year(app, client, patient_id, orders):
    """Both orders together met the deductible once and spent the personal account once, before and after paying."""
    assert splits(app, orders) == [(0, 50_000, 0, 50_000), (DEDUCTIBLE, 20_000, BALANCE, 50_000)]
    for order in orders:
        settle_in_sandbox(app, client, order)
    with app.app_context():
        account = db.session.get(InsuredAccount, patient_id, populate_existing=True)
        assert (account.deductible_paid_fen, account.fund_paid_fen, account.account_balance_fen) == (
            DEDUCTIBLE, 70_000, 0)


def test_a_second_order_opened_before_the_first_is_paid_counts_the_first(app, client, make):
    headers, patient_id, bills = insured_with_two_bills(app, client, make)
    first = pay(client, headers, bills[0]["id"])
    preview = client.post(f"/api/v1/bills/{bills[1]['id']}/pre-settlement", headers=headers).json
    assert preview == {"total_fen": 100_000, "insurance_fund_fen": 50_000, "personal_account_fen": 0,
                       "self_pay_fen": 50_000}  # what the second order will charge, the first counted
    check_one_year(app, client, patient_id, [first, pay(client, headers, bills[1]["id"])])


def test_an_order_left_to_lapse_gives_its_share_back_to_the_next(app, client, make):
    from datetime import timedelta

    from patient_api.common.clock import now
    headers, patient_id, bills = insured_with_two_bills(app, client, make)
    first = pay(client, headers, bills[0]["id"])
    with app.app_context():  # the first order lapses unpaid (WeChat closes it at expiry)
        payment = db.session.scalars(db.select(Payment).filter_by(out_trade_no=first["out_trade_no"])).one()
        payment.expires_at = now() - timedelta(seconds=1)
        db.session.commit()
    second = pay(client, headers, bills[1]["id"])
    assert splits(app, [second]) == [(DEDUCTIBLE, 20_000, BALANCE, 50_000)]


def open_at_once(app, headers, bills):
    """Both bills' orders opened by two threads released together."""
    gate = Barrier(len(bills))

    def open_order(bill):
        gate.wait()
        return pay(app.test_client(), headers, bill["id"])
    with ThreadPoolExecutor(max_workers=len(bills)) as pool:
        return list(pool.map(open_order, bills))


@pytest.mark.parametrize("rounds", [3])
def test_orders_opened_at_the_same_instant_share_one_year(app, make, rounds):
    """Two threads open the two orders at once, `rounds` times with new residents (PostgreSQL: the insured account's
    row lock decides; SQLite: its one writer)."""
    for _ in range(rounds):
        client = app.test_client()
        headers, patient_id, bills = insured_with_two_bills(app, client, make)
        check_one_year(app, client, patient_id, open_at_once(app, headers, bills))
