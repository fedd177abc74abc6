"""Bill kinds owned by other modules (registration fees, inpatient deposits, discharge settlement) plug in here.

Billing stays ignorant of appointments and admissions: the owning module registers how its bills are split,
whether what a bill pays for is still there, which deposit money a payment consumes, who made the bill and
what happens once one is paid. These are answers billing needs from one owner; facts that anyone may
react to (bill.paid, bill.refunded, …) are published through common.events instead.
"""
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class BillKind:
    """How one kind of bill is paid."""

    description: str = "泰安健康-诊间缴费"
    split: Callable | None = None  # bill -> {amount_fen, insurance_fund_fen, personal_account_fen, deposit_fen}
    pay_until: Callable = lambda bill, instant: None  # latest end of a new order; raises Conflict once unpayable
    # Money arrived: take what it pays for; falsy if that is gone (a truthy answer may be what was taken, which
    # settling keeps referenced until the bill is paid, so later hooks find it in the session).
    claim: Callable = lambda bill, instant: True
    applied: Callable = lambda bill: ()  # bill -> [(deposit bill id, fen)] consumed by its payment
    on_paid: Callable = lambda bill, payment, instant: None
    booker: Callable = lambda bill: None  # the account that made the bill (it pays it and hears of its refunds)
    booked_by: Callable | None = None  # account id -> SELECT of the ids of such bills that account made
    receipt: bool = True  # a 医疗收费电子票据 is issued once paid (deposits get none: they are not charges)
    paid_message: bool = True  # payment.received to the family (registration and settlement send their own)


_KINDS: dict[str, BillKind] = {}
_HOLDS: list[Callable] = []
_PAYERS: list[Callable] = []


def register(kind, **hooks):
    """Declare a bill kind's hooks (once, at import of the owning module)."""
    _KINDS[kind] = BillKind(**hooks)


def of(kind):
    """The hooks of a kind; the defaults fit outpatient bills."""
    return _KINDS.get(kind, BillKind())


def registered():
    """Every declared kind's hooks."""
    return list(_KINDS.values())


def hold(check):
    """Register check(bill) -> (code, message) or None: a bill held back from being paid on its own (a 先诊疗后付费
    bill waits for its settlement). Decorator; registered once, at import of the owning module."""
    if check not in _HOLDS:
        _HOLDS.append(check)
    return check


def held(bill):
    """The first registered hold on this bill as {"code", "message"}, or None when it may be paid on its own."""
    for check in _HOLDS:
        found = check(bill)
        if found:
            return {"code": found[0], "message": found[1]}
    return None


def paid_through(find):
    """Register find(bill) -> {"payment_id", "share_fen"} or None: a bill paid by another bill's payment (a 先诊疗后付费
    bill by its settlement's), and the part of that payment's self-pay that was its own; find may raise a Conflict
    when such a bill cannot be refunded online. Decorator; registered once, at import of the owning module."""
    if find not in _PAYERS:
        _PAYERS.append(find)
    return find


def payer(bill):
    """The first registered answer for a bill that has no payment of its own, or None."""
    for find in _PAYERS:
        found = find(bill)
        if found:
            return found
    return None
