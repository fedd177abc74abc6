"""Double-entry ledger: every movement of money is one balanced transaction (its entries sum to 0).

Sign convention: positive = the account owes (or holds for) the hospital more; negative = less.
- a bill is issued:   resident +T, hospital_receivable −T
- it is paid:         resident −T, wechat_clearing +S, insurance_fund +F, personal_account +P   (T = S + F + P);
  money taken at a hospital's window goes to counter_cash instead of wechat_clearing
- a refund of R:      hospital_receivable +R, wechat_clearing −R
- a bill refunded in full also reverses insurance: hospital_receivable +(F+P), insurance_fund −F, personal_account −P
- an unpaid bill is closed: resident −T, hospital_receivable +T
- money for a bill already paid or closed (overpayment S): wechat_clearing +S, resident −S (we owe it back)
- its refund R:       resident +R, wechat_clearing −R
- a bill paid through another bill's payment (a 先诊疗后付费 settlement's) and refunded on its own: first, once, its
  share s of that payment's self-pay moves to it (wechat_clearing +s on it, −s on the paying bill), then its
  refunds are booked on it like any bill's
- a discharge settlement paid (T = S + F + P + A): as a payment, plus hospital_receivable +Ak on each
  deposit bill k whose money it consumes (A = ΣAk); the deposits' surplus goes back as refunds of those bills.
  Per admission: deposits − self-pay − refunds + balance payments = 0 (see inpatient.settlement.identity).
"""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..extensions import db

ACCOUNTS = ("resident", "hospital_receivable", "insurance_fund", "personal_account", "wechat_clearing", "counter_cash")
# Where a payment's self-pay money is: WeChat Pay's clearing, or the cashier's drawer for money taken at the window.
CLEARING = {"counter": "counter_cash"}


class UnbalancedTransaction(ValueError):
    """Entries that do not sum to zero are never written."""


class LedgerTransaction(db.Model):
    """One movement of money; (kind, source_id) is unique, so replays post nothing twice."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (sa.UniqueConstraint("kind", "source_id"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("ltx"))
    kind: Mapped[str] = mapped_column(sa.String(20))  # issue | payment | refund | close
    source_id: Mapped[str] = mapped_column(sa.String(64))
    bill_id: Mapped[str] = mapped_column(sa.ForeignKey("bills.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


class LedgerEntry(db.Model):
    """One leg of a transaction."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_transactions.id"), index=True)
    bill_id: Mapped[str] = mapped_column(sa.ForeignKey("bills.id"), index=True)
    account: Mapped[str] = mapped_column(sa.String(24))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)


def post(kind, source_id, bill_id, legs, elsewhere=()):
    """Write a balanced transaction once; returns False if (kind, source_id) was already posted.

    `elsewhere` holds (bill_id, account, amount) legs of the same movement on other bills (deposits applied).
    """
    legs = {account: amount for account, amount in legs.items() if amount}
    elsewhere = [leg for leg in elsewhere if leg[2]]
    accounts = set(legs) | {account for _, account, _ in elsewhere}
    if sum(legs.values()) + sum(amount for *_, amount in elsewhere) != 0 or not accounts <= set(ACCOUNTS):
        raise UnbalancedTransaction(f"{kind} {source_id}: {legs} {elsewhere}")
    txn_id = _insert_once(kind, source_id, bill_id)
    if txn_id is None:
        return False
    # The legs as one plain INSERT: nothing reads their ids back, so the ORM's unit of work is not needed.
    rows = [{"transaction_id": txn_id, "bill_id": bill_id, "account": account, "amount_fen": amount}
            for account, amount in legs.items()]
    rows += [{"transaction_id": txn_id, "bill_id": other, "account": account, "amount_fen": amount}
             for other, account, amount in elsewhere]
    if rows:
        db.session.execute(ENTRY_INSERT, rows)
    return True


ENTRY_INSERT = sa.insert(LedgerEntry.__table__)  # built once: every payment, refund and deposit posts through it


# Text, not the dialects' insert().on_conflict_do_nothing(): PostgreSQL's Insert construct has no cache key, so
# SQLAlchemy compiled that statement anew on every post (every booking's bill and every payment). The same SQL runs
# on PostgreSQL and SQLite (3.35+); created_at keeps its column type, so it is stored as the ORM stores it.
_INSERT_ONCE = sa.text(
    "INSERT INTO ledger_transactions (id, kind, source_id, bill_id, created_at) "
    "VALUES (:id, :kind, :source_id, :bill_id, :created_at) ON CONFLICT (kind, source_id) DO NOTHING RETURNING id"
).bindparams(sa.bindparam("created_at", type_=UtcDateTime())).columns(id=sa.String)


def _insert_once(kind, source_id, bill_id):
    """The transaction's row unless (kind, source_id) was posted already: its id, or None.

    One INSERT … ON CONFLICT (kind, source_id) DO NOTHING RETURNING id instead of a savepoint around an INSERT:
    two round trips fewer on every post (a payment's settling sends ~25 statements), and only that conflict means
    "posted already" (a savepoint's IntegrityError also took a missing bill for one). A concurrent poster of the
    same key waits for the other transaction and then finds its row, as before."""
    db.session.flush()  # a statement on the table does not autoflush: the bill it names may still be pending
    return db.session.execute(_INSERT_ONCE, {"id": new_id("ltx"), "kind": kind, "source_id": source_id,
                                             "bill_id": bill_id, "created_at": now()}).scalar_one_or_none()


def balances(bill_id):
    """Per-account sums for one bill."""
    rows = db.session.execute(sa.select(LedgerEntry.account, sa.func.sum(LedgerEntry.amount_fen))
                              .where(LedgerEntry.bill_id == bill_id).group_by(LedgerEntry.account)).all()
    return {account: int(total) for account, total in rows}


def issue(bill):
    """The bill is owed."""
    return post("issue", bill.id, bill.id, {"resident": bill.total_fen, "hospital_receivable": -bill.total_fen})


def paid(bill, payment, applied=()):
    """The bill was paid: self-pay through WeChat, the rest by the fund, the personal account and deposits.

    `applied` lists (deposit bill id, fen) whose held money pays `payment.deposit_fen` of this bill.
    """
    return post("payment", payment.id, bill.id, {
        "resident": -bill.total_fen, CLEARING.get(payment.method, "wechat_clearing"): payment.amount_fen,
        "insurance_fund": payment.insurance_fund_fen, "personal_account": payment.personal_account_fen},
        elsewhere=[(deposit_bill_id, "hospital_receivable", fen) for deposit_bill_id, fen in applied])


def refunded(bill, refund):
    """Part of the self-pay went back to the resident."""
    return post("refund", refund.id, bill.id, {"hospital_receivable": refund.amount_fen,
                                               "wechat_clearing": -refund.amount_fen})


def self_pay_share(bill, payment, share_fen):
    """Attribute to `bill` the self-pay `payment` (of another bill) took for it, once; False if already posted."""
    return post("self_pay_share", f"{payment.id}/{bill.id}", bill.id, {"wechat_clearing": share_fen},
                elsewhere=[(payment.bill_id, "wechat_clearing", -share_fen)])


def insurance_reversed(bill, payment):
    """A bill refunded in full: the fund and the personal account take back what they paid; False if posted."""
    return post("insurance_refund", payment.id, bill.id, {
        "hospital_receivable": payment.insurance_fund_fen + payment.personal_account_fen,
        "insurance_fund": -payment.insurance_fund_fen, "personal_account": -payment.personal_account_fen})


def overpaid(bill, payment):
    """Money arrived that the bill did not need; it is owed back to the resident."""
    return post("overpayment", payment.id, bill.id, {"wechat_clearing": payment.amount_fen,
                                                     "resident": -payment.amount_fen})


def overpayment_refunded(bill, refund):
    """An overpayment went back."""
    return post("overpayment_refund", refund.id, bill.id, {"resident": refund.amount_fen,
                                                           "wechat_clearing": -refund.amount_fen})


def closed(bill):
    """An unpaid bill will never be paid."""
    return post("close", bill.id, bill.id, {"resident": -bill.total_fen, "hospital_receivable": bill.total_fen})


def derived_status(bill_id):
    """The bill status its ledger implies (unpaid | paid | partially_refunded | refunded | closed)."""
    rows = db.session.execute(
        sa.select(LedgerTransaction.kind, LedgerEntry.account, sa.func.sum(LedgerEntry.amount_fen))
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.bill_id == bill_id, LedgerEntry.bill_id == bill_id)  # its own legs only
        .group_by(LedgerTransaction.kind, LedgerEntry.account)).all()
    sums = {(kind, account): int(total) for kind, account, total in rows}
    kinds = {kind for kind, _ in sums}
    if "close" in kinds:
        return "closed"
    if "payment" not in kinds:
        return "unpaid"
    # A bill paid through another bill's payment owns the share attributed to it when first refunded.
    self_paid = sums.get(("payment", "wechat_clearing"), 0) + sums.get(("self_pay_share", "wechat_clearing"), 0)
    refunded_fen = sums.get(("refund", "hospital_receivable"), 0)
    if refunded_fen == 0:
        return "paid"
    return "refunded" if refunded_fen >= self_paid else "partially_refunded"
