"""Bill kinds owned by other modules (inpatient deposits, discharge settlement) plug in here.

Billing stays ignorant of admissions: a module registers how its bills are split, which deposit
money a payment consumes, and what happens once one is paid.
"""
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class BillKind:
    """How one kind of bill is paid."""

    description: str = "泰安健康-诊间缴费"
    split: Callable | None = None  # bill -> {amount_fen, insurance_fund_fen, personal_account_fen, deposit_fen}
    applied: Callable = lambda bill: ()  # bill -> [(deposit bill id, fen)] consumed by its payment
    on_paid: Callable = lambda bill, payment, instant: None
    receipt: bool = True  # a 医疗收费电子票据 is issued once paid (deposits get none: they are not charges)
    paid_message: bool = True  # payment.received to the family (the discharge settlement sends its own message)


_KINDS: dict[str, BillKind] = {}


def register(kind, **hooks):
    """Declare a bill kind's hooks (once, at import of the owning module)."""
    _KINDS[kind] = BillKind(**hooks)


def of(kind):
    """The hooks of a kind; the defaults fit outpatient and registration bills."""
    return _KINDS.get(kind, BillKind())
