"""Daily reconciliation (对账): the sandbox's trade bill against our payments, refunds and ledger."""
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from patient_api.billing import jobs
from patient_api.billing.gateway import pay_gateway
from patient_api.billing.ledger import LedgerEntry, LedgerTransaction
from patient_api.billing.models import Payment, Refund
from patient_api.billing.wechatpay import parse_trade_bill, render_trade_bill
from patient_api.common.clock import now, today_local
from patient_api.extensions import db

from .test_payment_recovery import book_and_order
from .test_payments import NOTIFY


@pytest.fixture
def rec():
    """The module under test."""
    from patient_api.billing import reconcile
    return reconcile


def deliver(app, client, out_trade_no):
    """The resident pays at WeChat and WeChat's notification reaches us."""
    with app.app_context():
        _, sandbox = pay_gateway()
        headers, body = sandbox.simulate_payment(out_trade_no, None, time.time())
    assert client.post(NOTIFY, data=body, headers=headers).status_code == 204


def paid_day(app, client, make, orders=3, refunded=1):
    """Registrations of 12.00 元 paid today with notifications delivered, the first `refunded` cancelled and
    refunded through the worker; returns their out_trade_nos."""
    numbers = []
    for n in range(orders):
        headers, appointment, order = book_and_order(client, make, days_ahead=3)  # before the cancel deadline
        deliver(app, client, order["out_trade_no"])
        if n < refunded:
            cancelled = client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=headers)
            assert cancelled.status_code == 200, cancelled.json
        numbers.append(order["out_trade_no"])
    with app.app_context():
        assert jobs.submit_refunds() == ({"refunded": refunded} if refunded else {})
    return numbers


def kinds(run):
    return [(m.kind, m.detail) for m in run.mismatches]


def test_a_day_of_paid_orders_and_a_refund_is_balanced(app, client, make, rec):
    paid_day(app, client, make, orders=3, refunded=1)
    with app.app_context():
        run = rec.reconcile(today_local())
        assert run.status == "balanced" and run.mismatch_count == 0, kinds(run)
        assert (run.wechat_count, run.wechat_total_fen, run.wechat_refund_fen) == (4, 3600, 1200)
        assert (run.ledger_payment_fen, run.ledger_refund_fen) == (3600, 1200)
        db.session.commit()


def test_a_lost_notification_is_missing_in_ledger_until_the_query_finds_it(app, client, make, rec):
    paid_day(app, client, make, orders=1, refunded=0)
    _, _, lost = book_and_order(client, make)
    with app.app_context():
        _, sandbox = pay_gateway()
        sandbox.simulate_payment(lost["out_trade_no"], None, time.time())  # the notification never arrives
        run = rec.reconcile(today_local())
        assert run.status == "mismatched" and run.mismatch_count == 1
        [mismatch] = run.mismatches
        assert (mismatch.kind, mismatch.out_trade_no) == ("missing_in_ledger", lost["out_trade_no"])
        assert (mismatch.wechat_fen, mismatch.ours_fen, mismatch.out_refund_no) == (1200, 1200, None)
        db.session.commit()
        assert jobs.query_payments(instant=now() + timedelta(seconds=6)) == {"paid": 1}
        again = rec.reconcile(today_local())
        assert again.status == "balanced", kinds(again)
        db.session.commit()
        history = db.session.scalars(sa.select(rec.ReconciliationRun.status)
                                     .order_by(rec.ReconciliationRun.created_at)).all()
        assert history == ["mismatched", "balanced"]


def _payment_rows(rows):
    return [row for row in rows if not row["out_refund_no"]]


def _refund_rows(rows):
    return [row for row in rows if row["out_refund_no"]]


def _raise_amount(rows):
    row = _payment_rows(rows)[1]
    row["amount_fen"] += 100
    row["settled_fen"] += 100


def _remove_payment(rows):
    rows.remove(_payment_rows(rows)[2])


def _add_payment(rows):
    rows.append({**_payment_rows(rows)[0], "out_trade_no": "NOTOURS0000000001", "transaction_id": "4200" + "9" * 24})


def _change_refund(rows):
    row = _refund_rows(rows)[0]
    row["refund_fen"] = row["requested_refund_fen"] = 600


def _remove_refund(rows):
    rows.remove(_refund_rows(rows)[0])


def _all_three(rows):
    for tamper in (_raise_amount, _remove_payment, _add_payment):
        tamper(rows)


@pytest.mark.parametrize("tamper, expected", [
    (_raise_amount, ["amount_mismatch"]),
    (_remove_payment, ["missing_in_wechat"]),
    (_add_payment, ["missing_in_ledger"]),
    (_change_refund, ["refund_amount_mismatch"]),
    (_remove_refund, ["refund_missing_in_wechat"]),
    (_all_three, ["amount_mismatch", "missing_in_ledger", "missing_in_wechat"]),
])
def test_a_tampered_bill_shows_each_difference(app, client, make, rec, tamper, expected):
    numbers = paid_day(app, client, make, orders=3, refunded=1)
    with app.app_context():
        _, sandbox = pay_gateway()
        rows = parse_trade_bill(sandbox.trade_bill(today_local()))
        rows.sort(key=lambda row: numbers.index(row["out_trade_no"]))
        tamper(rows)
        run = rec.reconcile(today_local(), csv_text=render_trade_bill(rows))
        assert run.status == "mismatched" and [m.kind for m in run.mismatches] == expected, kinds(run)
        found = {m.kind: m for m in run.mismatches}
        if "amount_mismatch" in found:
            assert (found["amount_mismatch"].out_trade_no, found["amount_mismatch"].wechat_fen) == (numbers[1], 1300)
        if "missing_in_wechat" in found:
            assert (found["missing_in_wechat"].out_trade_no, found["missing_in_wechat"].ours_fen) == (numbers[2], 1200)
        if "missing_in_ledger" in found:
            assert (found["missing_in_ledger"].out_trade_no, found["missing_in_ledger"].ours_fen) \
                == ("NOTOURS0000000001", None)
        for kind in ("refund_amount_mismatch", "refund_missing_in_wechat"):
            if kind in found:
                assert found[kind].out_trade_no == numbers[0] and found[kind].out_refund_no
                assert found[kind].ours_fen == 1200
        db.session.rollback()


def test_ledger_that_disagrees_with_payments_and_refunds(app, client, make, rec):
    numbers = paid_day(app, client, make, orders=2, refunded=1)
    with app.app_context():
        _, sandbox = pay_gateway()
        genuine = sandbox.trade_bill(today_local())
        payment = db.session.scalars(sa.select(Payment).filter_by(out_trade_no=numbers[1])).one()
        refund = db.session.scalars(sa.select(Refund)).one()
        payment_txn = sa.select(LedgerTransaction.id).filter_by(kind="payment", source_id=payment.id).scalar_subquery()
        clearing_leg = sa.and_(LedgerEntry.transaction_id == payment_txn, LedgerEntry.account == "wechat_clearing")
        db.session.execute(sa.update(LedgerEntry).where(clearing_leg).values(amount_fen=1100))
        refund_txn = sa.select(LedgerTransaction.id).filter_by(kind="refund", source_id=refund.id).scalar_subquery()
        db.session.execute(sa.delete(LedgerEntry).where(LedgerEntry.transaction_id == refund_txn))
        db.session.execute(sa.delete(LedgerTransaction).filter_by(kind="refund", source_id=refund.id))
        run = rec.reconcile(today_local(), csv_text=genuine)
        assert kinds(run) == [("amount_mismatch", "ledger: wechat_clearing 1100"),
                              ("refund_amount_mismatch", "ledger: no refund posted")]
        assert (run.ledger_payment_fen, run.ledger_refund_fen) == (1200 + 1100, 0)
        assert run.mismatches[1].out_refund_no == refund.out_refund_no
        db.session.rollback()


def test_a_bill_whose_summary_disagrees_with_its_rows_is_refused(app, client, make, rec):
    paid_day(app, client, make, orders=2, refunded=0)
    with app.app_context():
        _, sandbox = pay_gateway()
        lines = sandbox.trade_bill(today_local()).splitlines()
        truncated = "\r\n".join(lines[:1] + lines[2:])  # one detail row cut, the summary still counts it
        with pytest.raises(ValueError, match="summary"):
            rec.reconcile(today_local(), csv_text=truncated)
        db.session.rollback()


def test_cli_exit_codes(app, client, make, rec, tmp_path):
    numbers = paid_day(app, client, make, orders=2, refunded=1)
    runner, day = app.test_cli_runner(), today_local().isoformat()
    fetched = runner.invoke(rec.reconcile_command, ["--date", day])
    assert fetched.exit_code == 0, fetched.output
    assert fetched.output.startswith(f"{day} balanced: WeChat 3 rows, paid 24.00, refunded 12.00;")
    assert len(fetched.output.splitlines()) == 1
    with app.app_context():
        _, sandbox = pay_gateway()
        rows = [row for row in parse_trade_bill(sandbox.trade_bill(today_local())) if row["out_trade_no"] != numbers[1]]
    tampered = tmp_path / "bill.csv"
    tampered.write_text(render_trade_bill(rows), encoding="utf-8")
    mismatched = runner.invoke(rec.reconcile_command, ["--date", day, "--file", str(tampered)])
    assert mismatched.exit_code == 1, mismatched.output
    summary, line = mismatched.output.splitlines()
    assert f"{day} mismatched:" in summary and "1 mismatches" in summary
    assert line == f"missing_in_wechat {numbers[1]} - wechat=- ours=12.00 not in WeChat's bill"
    yesterday = runner.invoke(rec.reconcile_command, [])  # default: yesterday, nothing paid then
    assert yesterday.exit_code == 0 and yesterday.output.startswith(f"{today_local() - timedelta(days=1)} balanced")
    (tmp_path / "junk.csv").write_text("not a bill\n", encoding="utf-8")
    junk = runner.invoke(rec.reconcile_command, ["--date", day, "--file", str(tmp_path / "junk.csv")])
    assert junk.exit_code == 2 and "not a WeChat trade bill" in junk.output
    with app.app_context():  # each finished run was committed; the refused file left nothing
        assert db.session.scalar(sa.select(sa.func.count()).select_from(rec.ReconciliationRun)) == 3


def test_a_refunded_double_payment_reconciles(app, client, make, rec):
    """Paid twice (phone and kiosk), the second refunded in full: WeChat and our books still agree."""
    from .test_payments import pay
    headers, appointment, first = book_and_order(client, make)
    second = pay(client, headers, appointment["bill_id"], "wechat_native")
    for order in (first, second):
        deliver(app, client, order["out_trade_no"])
    with app.app_context():
        jobs.submit_refunds()
        db.session.commit()
        run = rec.reconcile(today_local())
        db.session.commit()
        assert (run.status, run.mismatch_count) == ("balanced", 0)
