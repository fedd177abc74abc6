"""Daily reconciliation (对账): WeChat's trade bill for a China-time day against our payments, refunds and ledger."""
from datetime import date, datetime, time, timedelta

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..common.clock import UtcDateTime, local_dt, now, today_local
from ..common.ids import new_id
from ..extensions import db
from .gateway import pay_gateway
from .ledger import LedgerEntry, LedgerTransaction
from .models import Payment, Refund
from .wechatpay import PayError, parse_trade_bill, parse_trade_bill_summary
from .wechatpay.bill import summarize, yuan

MISMATCH_KINDS = ("missing_in_ledger", "missing_in_wechat", "amount_mismatch", "status_mismatch",
                  "refund_missing_in_ledger", "refund_missing_in_wechat", "refund_amount_mismatch")


class ReconciliationRun(db.Model):
    """One comparison of a day's trade bill with our books; re-running a day adds a run, history stays."""

    __tablename__ = "reconciliation_runs"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("rec"))
    bill_date: Mapped[date] = mapped_column(sa.Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    wechat_count: Mapped[int]  # WeChat's summary: 总交易单数 (payment and refund rows)
    # Day totals in BigInteger: a whole city's day can pass 2^31 fen (21 million yuan).
    wechat_total_fen: Mapped[int] = mapped_column(sa.BigInteger)  # 应结订单总金额
    wechat_refund_fen: Mapped[int] = mapped_column(sa.BigInteger)  # 退款总金额
    ledger_payment_fen: Mapped[int] = mapped_column(sa.BigInteger)  # wechat_clearing of the day's payments
    ledger_refund_fen: Mapped[int] = mapped_column(sa.BigInteger)  # wechat_clearing given back by the day's refunds
    mismatch_count: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(12))  # balanced | mismatched

    mismatches: Mapped[list["ReconciliationMismatch"]] = relationship(
        lazy="selectin", order_by="ReconciliationMismatch.id")


class ReconciliationMismatch(db.Model):
    """One disagreement found by a run; `detail` says which side and why, for the person who clears it."""

    __tablename__ = "reconciliation_mismatches"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(sa.ForeignKey("reconciliation_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(30))  # one of MISMATCH_KINDS
    out_trade_no: Mapped[str] = mapped_column(sa.String(32))
    out_refund_no: Mapped[str | None] = mapped_column(sa.String(64))
    wechat_fen: Mapped[int | None]  # the bill's amount, None when WeChat has no row
    ours_fen: Mapped[int | None]  # our payment's or refund's amount, None when we have no row
    detail: Mapped[str] = mapped_column(sa.String(200))


def reconcile(bill_date, csv_text=None, instant=None):
    """Compare the trade bill of bill_date (fetched from WeChat unless csv_text is given) with our books; flushed."""
    if csv_text is None:
        db.session.commit()  # nothing is held open (locks, a pooled connection) while WeChat answers
        _settings, client = pay_gateway()
        csv_text = client.trade_bill(bill_date)
    rows, summary = _read_bill(csv_text)
    start, end = local_dt(bill_date, time(0)), local_dt(bill_date + timedelta(days=1), time(0))
    payment_found, ledger_paid = _payments(rows, start, end)
    refund_found, ledger_refunded = _refunds(rows, start, end)
    found = sorted(payment_found + refund_found, key=lambda m: (m.kind, m.out_trade_no, m.out_refund_no or ""))
    run = ReconciliationRun(bill_date=bill_date, created_at=instant or now(), wechat_count=summary["count"],
                            wechat_total_fen=summary["settled_fen"], wechat_refund_fen=summary["refund_fen"],
                            ledger_payment_fen=ledger_paid, ledger_refund_fen=ledger_refunded,
                            mismatch_count=len(found), status="mismatched" if found else "balanced", mismatches=found)
    db.session.add(run)
    db.session.flush()
    return run


def _read_bill(csv_text):
    """(detail rows, summary); a summary that disagrees with the rows means a truncated or edited file."""
    rows, summary = parse_trade_bill(csv_text), parse_trade_bill_summary(csv_text)
    counted = summarize(rows)
    if any(summary[key] != counted[key] for key in ("count", "settled_fen", "refund_fen")):
        raise ValueError("trade bill summary disagrees with its rows (truncated or edited file)")
    return rows, summary


def _mismatch(kind, out_trade_no, wechat_fen, ours_fen, detail, out_refund_no=None):
    return ReconciliationMismatch(kind=kind, out_trade_no=out_trade_no, out_refund_no=out_refund_no or None,
                                  wechat_fen=wechat_fen, ours_fen=ours_fen, detail=detail[:200])


def _payments(rows, start, end):
    """Mismatches of the day's payment rows against payments we marked paid that day; and their ledger total."""
    theirs = {row["out_trade_no"]: row for row in rows if not row["out_refund_no"] and row["trade_state"] == "SUCCESS"}
    # Money a cashier took at the window never passes through WeChat Pay: it is not in the trade bill.
    window = sa.and_(Payment.status == "paid", Payment.paid_at >= start, Payment.paid_at < end,
                     Payment.method != "counter")
    ours = {payment.out_trade_no: payment for payment in db.session.scalars(sa.select(Payment).where(window))}
    # We mark an order paid when told, which may be after midnight; so WeChat's rows are matched to any of our days.
    elsewhere = _by(Payment, Payment.out_trade_no, set(theirs) - set(ours))
    found = []
    for number, row in theirs.items():
        payment, wechat_fen = ours.get(number) or elsewhere.get(number), row["amount_fen"]
        if payment is None:
            found.append(_mismatch("missing_in_ledger", number, wechat_fen, None, "no such order of ours"))
        elif payment.status == "created":
            found.append(_mismatch("missing_in_ledger", number, wechat_fen, payment.amount_fen,
                                   "paid at WeChat, unpaid here (notification lost, not yet queried)"))
        elif payment.status != "paid":
            found.append(_mismatch("status_mismatch", number, wechat_fen, payment.amount_fen,
                                   f"paid at WeChat, {payment.status} here"))
        elif payment.amount_fen != wechat_fen:
            found.append(_mismatch("amount_mismatch", number, wechat_fen, payment.amount_fen, "order amount differs"))
        elif payment.transaction_id != row["transaction_id"]:
            found.append(_mismatch("status_mismatch", number, wechat_fen, payment.amount_fen,
                                   f"WeChat transaction {row['transaction_id']}, ours {payment.transaction_id}"))
    for number, payment in ours.items():
        if number not in theirs and payment.amount_fen > 0:  # an all-insurance payment never goes through WeChat
            found.append(_mismatch("missing_in_wechat", number, None, payment.amount_fen, "not in WeChat's bill"))
    posted = _clearing(("payment", "overpayment"), Payment, window)
    for number, payment in ours.items():
        if payment.id not in posted:
            found.append(_mismatch("amount_mismatch", number, None, payment.amount_fen, "ledger: no payment posted"))
        elif posted[payment.id] != payment.amount_fen:
            found.append(_mismatch("amount_mismatch", number, None, payment.amount_fen,
                                   f"ledger: wechat_clearing {posted[payment.id]}"))
    return found, sum(posted.values())


def _refunds(rows, start, end):
    """Mismatches of the day's refund rows against refunds that succeeded that day; and their ledger total."""
    theirs = {row["out_refund_no"]: row for row in rows if row["out_refund_no"]}
    window = sa.and_(Refund.status == "succeeded", Refund.succeeded_at >= start, Refund.succeeded_at < end)
    ours = {refund.out_refund_no: (refund, number) for refund, number in db.session.execute(
        sa.select(Refund, Payment.out_trade_no).join(Payment, Payment.id == Refund.payment_id).where(window))}
    # Only refunds WeChat reports done moved money; PROCESSING/ABNORMAL/CLOSED rows are judged from our side below.
    done = {number: row for number, row in theirs.items() if row["refund_status"] == "SUCCESS"}
    elsewhere = _by(Refund, Refund.out_refund_no, set(done) - set(ours))
    found = []
    for number, row in done.items():
        refund, wechat_fen = ours[number][0] if number in ours else elsewhere.get(number), row["requested_refund_fen"]
        if refund is None or refund.status != "succeeded":
            found.append(_mismatch("refund_missing_in_ledger", row["out_trade_no"], wechat_fen,
                                   refund.amount_fen if refund else None,
                                   f"refunded at WeChat, {refund.status if refund else 'unknown'} here", number))
        elif refund.amount_fen != wechat_fen:
            found.append(_mismatch("refund_amount_mismatch", row["out_trade_no"], wechat_fen, refund.amount_fen,
                                   "refund amount differs", number))
    for number, (refund, trade_no) in ours.items():
        if number not in done:
            why = f"WeChat says {theirs[number]['refund_status']}" if number in theirs else "not in WeChat's bill"
            found.append(_mismatch("refund_missing_in_wechat", trade_no, None, refund.amount_fen, why, number))
    posted = {refund_id: -fen for refund_id, fen in _clearing(("refund", "overpayment_refund"), Refund, window).items()}
    for number, (refund, trade_no) in ours.items():
        if posted.get(refund.id) != refund.amount_fen:
            what = f"wechat_clearing -{posted[refund.id]}" if refund.id in posted else "no refund posted"
            found.append(_mismatch("refund_amount_mismatch", trade_no, None, refund.amount_fen, f"ledger: {what}",
                                   number))
    return found, sum(posted.values())


def _by(model, column, numbers):
    """{number: row} for the given out_trade_no / out_refund_no values (none asked, no query)."""
    if not numbers:
        return {}
    return {getattr(row, column.key): row for row in db.session.scalars(sa.select(model).where(column.in_(numbers)))}


def _clearing(kinds, model, window):
    """{source id: wechat_clearing sum} of these kinds of ledger transactions in window; absent = not posted."""
    leg = sa.and_(LedgerEntry.transaction_id == LedgerTransaction.id, LedgerEntry.account == "wechat_clearing")
    query = (sa.select(LedgerTransaction.source_id, sa.func.coalesce(sa.func.sum(LedgerEntry.amount_fen), 0))
             .join(model, model.id == LedgerTransaction.source_id).outerjoin(LedgerEntry, leg)
             .where(LedgerTransaction.kind.in_(kinds), window).group_by(LedgerTransaction.source_id))
    return {source_id: int(total) for source_id, total in db.session.execute(query)}


class ReconcileFailed(click.ClickException):
    """The day could not be compared at all (bad file, WeChat unavailable): exit 2, apart from a mismatch's 1."""

    exit_code = 2


@click.command("reconcile")
@click.option("--date", "bill_date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="China-time day, YYYY-MM-DD (default: yesterday).")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False),
              help="A downloaded trade bill CSV to use instead of fetching it from WeChat Pay.")
@with_appcontext
def reconcile_command(bill_date, path):
    """Reconcile a day's WeChat Pay trade bill with payments, refunds and the ledger; exit 1 on any mismatch."""
    day = bill_date.date() if bill_date else today_local() - timedelta(days=1)
    try:
        if path:
            with open(path, encoding="utf-8-sig") as bill_file:
                csv_text = bill_file.read()
        else:
            csv_text = None
        run = reconcile(day, csv_text)
    except (ValueError, PayError) as exc:  # UnicodeDecodeError is a ValueError
        db.session.rollback()
        raise ReconcileFailed(f"reconcile {day}: {exc}") from exc
    lines = [f"{day} {run.status}: WeChat {run.wechat_count} rows, paid {yuan(run.wechat_total_fen)}, "
             f"refunded {yuan(run.wechat_refund_fen)}; ledger paid {yuan(run.ledger_payment_fen)}, "
             f"refunded {yuan(run.ledger_refund_fen)}; {run.mismatch_count} mismatches (run {run.id})"]
    lines += [f"{m.kind} {m.out_trade_no} {m.out_refund_no or '-'} wechat={_fen(m.wechat_fen)} "
              f"ours={_fen(m.ours_fen)} {m.detail}" for m in run.mismatches]
    mismatched = run.status == "mismatched"
    db.session.commit()
    for line in lines:
        click.echo(line)
    if mismatched:
        raise SystemExit(1)


def _fen(fen):
    return "-" if fen is None else yuan(fen)
