"""Medical-insurance pre-settlement (医保预结算): split a bill into 统筹基金 + 个人账户 + 自付 in integer fen.

Per bill: 甲 items are fully in scope, 乙 items first pay class_b_self_ratio_bp (先行自付) and the rest is in scope,
丙/None items are self-paid; the in-scope sum first meets the remaining deductible (起付线); the fund pays
fund_ratio_bp of the rest, up to what is left of the annual cap (封顶线); the personal account (个人账户) pays the
parts the policy lets it pay, up to its balance; the patient pays the rest.

Rounding rule (no floats anywhere): each 乙 item's 先行自付 is rounded UP to the fen, and the fund's share is computed
once per bill and rounded DOWN to the fen, so the patient is never over-reimbursed; the fraction of a fen stays with
the patient (in co_pay_fen), so fund + personal account + self-pay always equals the total exactly.
"""
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..directory.levels import level_rank

BP = 10_000  # basis points in 100 %
MAX_ITEM_FEN = 10**10  # 1 亿元 on one line is a data error, not a bill
INSURANCE_TYPES = ("employee", "resident", "self_pay")
SETTINGS = ("outpatient", "inpatient")
CLASSES = ("甲", "乙", "丙")
COVERS = ("in_scope_self", "class_b_self", "class_c")  # what the personal account may pay


class InsuranceInputError(ValueError):
    """A bill, policy or insured state the adjudicator refuses to price."""


def _nonneg(name: str, value: Any, maximum: int | None = None) -> None:
    """Refuse anything but an int in [0, maximum]; bool and float are refused because money is integer fen."""
    if type(value) is not int or value < 0 or (maximum is not None and value > maximum):
        raise InsuranceInputError(f"{name} must be an int in [0, {maximum if maximum is not None else 'inf'}]")


def _one_of(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Refuse a value outside the allowed set."""
    if value not in tuple(allowed):
        raise InsuranceInputError(f"{name} must be one of {tuple(allowed)}, got {value!r}")


def _ceil_div(numerator: int, denominator: int) -> int:
    """Integer division rounded up (non-negative operands)."""
    return -(-numerator // denominator)


@dataclass(frozen=True)
class Policy:
    """Reimbursement rules for one hospital × insurance type × setting; rows of the integrator's policy table."""

    insurance_type: str
    setting: str
    deductible_fen: int  # per year for outpatient, per admission for inpatient
    fund_ratio_bp: int  # 8000 = the fund pays 80 % of the in-scope amount above the deductible
    class_b_self_ratio_bp: int  # 乙类先行自付, e.g. 1000 = 10 %
    annual_cap_fen: int
    personal_account_covers: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _one_of("insurance_type", self.insurance_type, INSURANCE_TYPES)
        _one_of("setting", self.setting, SETTINGS)
        _nonneg("deductible_fen", self.deductible_fen)
        _nonneg("fund_ratio_bp", self.fund_ratio_bp, BP)
        _nonneg("class_b_self_ratio_bp", self.class_b_self_ratio_bp, BP)
        _nonneg("annual_cap_fen", self.annual_cap_fen)
        covers = frozenset(self.personal_account_covers)  # a list from a JSON column is fine; a str fails below
        for name in covers:
            _one_of("personal_account_covers", name, COVERS)
        object.__setattr__(self, "personal_account_covers", covers)


@dataclass(frozen=True)
class Item:
    """One bill line as the adjudicator sees it; insurance_class None means 丙 (not covered)."""

    code: str
    name: str
    category: str
    quantity: int
    unit_price_fen: int
    insurance_class: str | None = None

    def __post_init__(self) -> None:
        if type(self.quantity) is not int or self.quantity <= 0:
            raise InsuranceInputError(f"quantity must be an int > 0, got {self.quantity!r}")
        _nonneg("unit_price_fen", self.unit_price_fen)
        _one_of("insurance_class", self.insurance_class, (*CLASSES, None))
        if self.amount_fen > MAX_ITEM_FEN:
            raise InsuranceInputError(f"item {self.code}: amount {self.amount_fen} fen exceeds {MAX_ITEM_FEN}")

    @property
    def amount_fen(self) -> int:
        """quantity × unit price."""
        return self.quantity * self.unit_price_fen

    @classmethod
    def from_row(cls, row: Any) -> "Item":
        """Build from anything shaped like a BillItem; a stored amount_fen that disagrees is corrupt data."""
        item = row if isinstance(row, Item) else cls(row.code, row.name, row.category, row.quantity,
                                                     row.unit_price_fen, row.insurance_class)
        stored = getattr(row, "amount_fen", None)
        if stored is not None and stored != item.amount_fen:
            raise InsuranceInputError(f"item {item.code}: amount_fen {stored} != quantity × unit_price_fen")
        return item


@dataclass(frozen=True)
class Insured:
    """The patient's insurance state before this bill (deductible period: year outpatient, admission inpatient)."""

    insurance_type: str
    deductible_paid_fen: int = 0
    fund_paid_fen: int = 0  # fund already paid this year, counted against the annual cap
    account_balance_fen: int = 0

    def __post_init__(self) -> None:
        _one_of("insurance_type", self.insurance_type, INSURANCE_TYPES)
        _nonneg("deductible_paid_fen", self.deductible_paid_fen)
        _nonneg("fund_paid_fen", self.fund_paid_fen)
        _nonneg("account_balance_fen", self.account_balance_fen)


@dataclass(frozen=True)
class ItemSplit:
    """How one line divides between the in-scope amount, 乙类先行自付 and 丙类."""

    code: str
    name: str
    insurance_class: str
    amount_fen: int
    in_scope_fen: int
    class_b_self_fen: int
    class_c_fen: int


@dataclass(frozen=True)
class Split:
    """The pre-settlement result; every field is integer fen."""

    total_fen: int
    insurance_fund_fen: int
    personal_account_fen: int
    self_pay_fen: int
    in_scope_fen: int  # = deductible_applied + co_pay + over_cap + insurance_fund
    class_b_self_fen: int
    class_c_fen: int
    deductible_applied_fen: int
    co_pay_fen: int  # the in-scope share the fund's ratio leaves to the patient (按比例自付)
    over_cap_fen: int  # in-scope amount past the point where the annual cap ran out (超封顶线)
    items: tuple[ItemSplit, ...] = ()

    def as_api(self) -> dict[str, int]:
        """The body of POST /bills/{id}/pre-settlement."""
        return {"total_fen": self.total_fen, "insurance_fund_fen": self.insurance_fund_fen,
                "personal_account_fen": self.personal_account_fen, "self_pay_fen": self.self_pay_fen}


def _classify(item: Item, policy: Policy) -> ItemSplit:
    """Divide one line by its insurance class."""
    amount, klass = item.amount_fen, item.insurance_class or "丙"
    b_self = _ceil_div(amount * policy.class_b_self_ratio_bp, BP) if klass == "乙" else 0
    c = amount if klass == "丙" else 0
    return ItemSplit(item.code, item.name, klass, amount, amount - b_self - c, b_self, c)


def _fund_share(in_scope: int, policy: Policy, insured: Insured) -> tuple[int, int, int]:
    """(deductible applied, fund share, over-cap amount) for the in-scope sum."""
    deductible = min(in_scope, max(0, policy.deductible_fen - insured.deductible_paid_fen))
    eligible = in_scope - deductible
    fund = eligible * policy.fund_ratio_bp // BP  # rounded down: never reimburse a fen not owed
    cap_left = max(0, policy.annual_cap_fen - insured.fund_paid_fen)
    if fund <= cap_left:
        return deductible, fund, 0
    # The cap binds (so fund_ratio_bp > 0): the expense it still pays for at this ratio, rounded up in the
    # patient's disfavour like the fund share; all eligible expense beyond that is self-paid over the cap.
    covered = _ceil_div(cap_left * BP, policy.fund_ratio_bp)
    return deductible, cap_left, eligible - covered


def adjudicate(items: Iterable[Item], policy: Policy, insured: Insured) -> Split:
    """Split a bill under policy for insured; raises InsuranceInputError (a ValueError) on bad input."""
    if insured.insurance_type != policy.insurance_type:
        raise InsuranceInputError(f"policy is for {policy.insurance_type}, patient is {insured.insurance_type}")
    lines = tuple(_classify(item, policy) for item in items)
    total = sum(line.amount_fen for line in lines)
    in_scope = sum(line.in_scope_fen for line in lines)
    class_b = sum(line.class_b_self_fen for line in lines)
    class_c = sum(line.class_c_fen for line in lines)
    # 自费 is decided by the patient's status, not the policy row: a misconfigured row must not pay anything.
    self_pay = insured.insurance_type == "self_pay"
    deductible, fund, over_cap = (0, 0, 0) if self_pay else _fund_share(in_scope, policy, insured)
    covers = frozenset() if self_pay else policy.personal_account_covers
    co_pay = in_scope - deductible - over_cap - fund
    payable = {"in_scope_self": deductible + co_pay + over_cap, "class_b_self": class_b, "class_c": class_c}
    personal = min(insured.account_balance_fen, sum(payable[name] for name in covers))
    return Split(total_fen=total, insurance_fund_fen=fund, personal_account_fen=personal,
                 self_pay_fen=total - fund - personal, in_scope_fen=in_scope, class_b_self_fen=class_b,
                 class_c_fen=class_c, deductible_applied_fen=deductible, co_pay_fen=co_pay,
                 over_cap_fen=over_cap, items=lines)


# Plausible Shandong-style defaults, by hospital level 1/2/3; real figures come from the policy table.
# (insurance type, setting) -> (deductible fen by level, fund ratio bp by level, annual cap fen, account covers)
_DEFAULTS = {
    ("employee", "outpatient"): ((20_000, 40_000, 60_000), (7000, 6000, 5000), 500_000, frozenset(COVERS)),
    ("employee", "inpatient"): ((20_000, 50_000, 80_000), (9000, 8500, 8000), 30_000_000, frozenset(COVERS)),
    ("resident", "outpatient"): ((0, 10_000, 20_000), (6000, 5000, 4000), 40_000, frozenset()),
    ("resident", "inpatient"): ((20_000, 50_000, 100_000), (8500, 7500, 6000), 20_000_000, frozenset()),
    ("self_pay", "outpatient"): ((0, 0, 0), (0, 0, 0), 0, frozenset()),
    ("self_pay", "inpatient"): ((0, 0, 0), (0, 0, 0), 0, frozenset()),
}
DEFAULT_CLASS_B_SELF_BP = 1000


def hospital_level_rank(hospital_level: str) -> int:
    """1, 2 or 3 from a level such as "三级甲等", "二级乙等" or "一级"; no policy fits any other level."""
    rank = level_rank(hospital_level)
    if not rank:
        raise InsuranceInputError(f"unknown hospital level {hospital_level!r}")
    return rank


def default_policies(hospital_level: str) -> dict[tuple[str, str], Policy]:
    """Default policies keyed by (insurance type, setting) for a hospital of this level."""
    i = hospital_level_rank(hospital_level) - 1
    return {(kind, setting): Policy(kind, setting, deductibles[i], ratios[i],
                                    DEFAULT_CLASS_B_SELF_BP if kind != "self_pay" else 0, cap, covers)
            for (kind, setting), (deductibles, ratios, cap, covers) in _DEFAULTS.items()}


@dataclass(frozen=True)
class SettlementContext:
    """Where the bill is settled: which hospital (and its level) and outpatient or inpatient."""

    hospital_id: str
    hospital_level: str
    setting: str

    def __post_init__(self) -> None:
        _one_of("setting", self.setting, SETTINGS)


PolicyLookup = Callable[[SettlementContext, str], Policy]  # (context, insurance type) -> policy


def default_policy_lookup(context: SettlementContext, insurance_type: str) -> Policy:
    """The default policy for the context's hospital level; for tests and hospitals without a policy row."""
    _one_of("insurance_type", insurance_type, INSURANCE_TYPES)
    return default_policies(context.hospital_level)[(insurance_type, context.setting)]


@dataclass(frozen=True)
class Claim:
    """What the insurance paid for one bill, as settled (and, on a full refund, reversed) with the platform."""

    patient_id: str
    insurance_type: str
    setting: str
    year: int
    deductible_fen: int  # 起付线 used up by this bill
    fund_fen: int
    personal_account_fen: int

    def __post_init__(self) -> None:
        _one_of("setting", self.setting, SETTINGS)
        for name in ("deductible_fen", "fund_fen", "personal_account_fen"):
            _nonneg(name, getattr(self, name))


ClaimRecorder = Callable[[Claim, int], None]  # (claim, +1 settled | -1 reversed) -> None


@runtime_checkable
class InsuranceAdapter(Protocol):
    """The medical-insurance platform: the local adjudicator now, the city's platform later."""

    def pre_settle(self, bill_items: Iterable[Any], insured: Insured, context: SettlementContext) -> Split:
        """Split the bill; bill_items are Items or BillItem-shaped rows."""

    def settle(self, claim: Claim) -> None:
        """The bill was paid: the fund and the personal account pay their parts."""

    def refund(self, claim: Claim) -> None:
        """The bill was refunded in full: the fund and the personal account take their parts back."""


class LocalAdjudicator:
    """InsuranceAdapter computing the split locally with adjudicate() and a policy lookup; settlements and
    refunds go to `recorder` (the insured person's year-to-date state), as the platform would keep them."""

    def __init__(self, policy_lookup: PolicyLookup = default_policy_lookup,
                 recorder: ClaimRecorder | None = None) -> None:
        self._lookup = policy_lookup
        self._record = recorder or (lambda claim, sign: None)

    def settle(self, claim: Claim) -> None:
        """Record the fund's and the personal account's payment."""
        self._record(claim, 1)

    def refund(self, claim: Claim) -> None:
        """Record their reversal."""
        self._record(claim, -1)

    def pre_settle(self, bill_items: Iterable[Any], insured: Insured, context: SettlementContext) -> Split:
        """Look up the policy for this patient and place, then adjudicate."""
        policy = self._lookup(context, insured.insurance_type)
        if policy.setting != context.setting:  # a lookup bug would silently apply inpatient rates to outpatients
            raise InsuranceInputError(f"policy is for {policy.setting}, bill is {context.setting}")
        return adjudicate([Item.from_row(row) for row in bill_items], policy, insured)
