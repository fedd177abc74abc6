"""Insurance pre-settlement: hand-computed bills, edge cases and property tests of the split invariants."""
import random
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patient_api.billing.insurance import (
    BP,
    COVERS,
    INSURANCE_TYPES,
    MAX_ITEM_FEN,
    SETTINGS,
    InsuranceAdapter,
    InsuranceInputError,
    Insured,
    Item,
    LocalAdjudicator,
    Policy,
    SettlementContext,
    Split,
    adjudicate,
    default_policies,
    hospital_level_rank,
)


def item(klass, quantity, price, code="X"):
    """A bill line with only what the adjudicator reads."""
    return Item(code, code, "drug", quantity, price, klass)


def policy(kind="employee", setting="outpatient", deductible=0, ratio=8000, b=1000, cap=10**9, covers=()):
    """A policy with test-friendly defaults."""
    return Policy(kind, setting, deductible, ratio, b, cap, frozenset(covers))


def parts(split):
    """The four API numbers."""
    return (split.total_fen, split.insurance_fund_fen, split.personal_account_fen, split.self_pay_fen)


# --- worked examples (numbers computed by hand in the comments) ---

def test_employee_outpatient_tertiary_mixed_classes_with_deductible_partly_used():
    pol = policy("employee", "outpatient", deductible=60_000, ratio=5000, covers={"in_scope_self", "class_b_self"})
    insured = Insured("employee", deductible_paid_fen=50_000, account_balance_fen=100_000)
    items = [item("甲", 3, 1251, "阿莫西林"),  # 3753 in scope
             item("甲", 1, 30_000, "CT"),  # 30000 in scope
             item("乙", 2, 4567, "头孢克肟"),  # 9134: 先行自付 ceil(913.4) = 914, 8220 in scope
             item("丙", 1, 8800, "自费药")]  # 8800 self-paid
    split = adjudicate(items, pol, insured)
    # total 51687; in scope 41973; deductible left 10000; eligible 31973; fund floor(15986.5) = 15986;
    # co-pay 15987; account pays deductible + co-pay + 乙 first part = 10000 + 15987 + 914 = 26901; 丙 is self-pay.
    assert parts(split) == (51_687, 15_986, 26_901, 8_800)
    assert (split.in_scope_fen, split.class_b_self_fen, split.class_c_fen) == (41_973, 914, 8_800)
    assert (split.deductible_applied_fen, split.co_pay_fen, split.over_cap_fen) == (10_000, 15_987, 0)
    assert [(line.code, line.in_scope_fen, line.class_b_self_fen, line.class_c_fen) for line in split.items] == [
        ("阿莫西林", 3753, 0, 0), ("CT", 30_000, 0, 0), ("头孢克肟", 8220, 914, 0), ("自费药", 0, 0, 8800)]
    assert split.as_api() == {"total_fen": 51_687, "insurance_fund_fen": 15_986,
                              "personal_account_fen": 26_901, "self_pay_fen": 8_800}


def test_resident_inpatient_bill_hits_annual_cap():
    pol = policy("resident", "inpatient", deductible=100_000, ratio=6000, cap=20_000_000)
    insured = Insured("resident", deductible_paid_fen=0, fund_paid_fen=19_900_000)  # 1000 元 of cap left
    items = [item("甲", 1, 300_000, "手术费"), item("乙", 10, 5000, "床位费"), item("丙", 1, 12_345, "自费耗材")]
    split = adjudicate(items, pol, insured)
    # total 362345; in scope 300000 + 45000 = 345000; 乙 first part 5000; 丙 12345; deductible 100000;
    # eligible 245000 would earn 147000 but only 100000 of cap is left, which pays for ceil(100000 / 0.6) = 166667
    # of expense; the remaining 78333 is over the cap; co-pay 166667 - 100000 = 66667.
    assert parts(split) == (362_345, 100_000, 0, 262_345)
    assert (split.deductible_applied_fen, split.co_pay_fen, split.over_cap_fen) == (100_000, 66_667, 78_333)
    assert 100_000 + 66_667 + 78_333 + 5000 + 12_345 == split.self_pay_fen


@pytest.mark.parametrize("pol", [policy("self_pay", ratio=0, b=0, cap=0),
                                 policy("self_pay", ratio=9000, cap=10**9, covers=COVERS)],  # misconfigured row
                         ids=["default", "misconfigured"])
def test_self_pay_patient_pays_everything(pol):
    insured = Insured("self_pay", account_balance_fen=50_000, fund_paid_fen=0)
    split = adjudicate([item("甲", 3, 1251), item("乙", 2, 4567), item("丙", 1, 8800)], pol, insured)
    assert parts(split) == (21_687, 0, 0, 21_687)


def test_small_personal_account_balance_pays_what_it_can():
    pol = policy("employee", "inpatient", deductible=80_000, ratio=8000, covers=COVERS)
    insured = Insured("employee", deductible_paid_fen=80_000, account_balance_fen=1234)
    split = adjudicate([item("甲", 1, 10_001), item("丙", 1, 500)], pol, insured)
    # fund floor(8000.8) = 8000; account could pay 2001 + 500 but holds 1234; patient pays 10501 - 8000 - 1234.
    assert parts(split) == (10_501, 8000, 1234, 1267)


# --- edge cases ---

@pytest.mark.parametrize(("items", "pol", "insured", "expected"), [
    ([], policy(deductible=100), Insured("employee", account_balance_fen=10), (0, 0, 0, 0)),
    ([item("甲", 5, 0)], policy(), Insured("employee"), (0, 0, 0, 0)),
    ([item(None, 1, 700)], policy(covers={"class_c"}), Insured("employee", account_balance_fen=10**6),
     (700, 0, 700, 0)),  # None means 丙
    ([item("甲", 1, 1000)], policy(deductible=500), Insured("employee", deductible_paid_fen=900),
     (1000, 800, 0, 200)),  # deductible overpaid earlier: nothing more applies
    ([item("甲", 1, 1000)], policy(deductible=5000), Insured("employee"), (1000, 0, 0, 1000)),  # all deductible
    ([item("甲", 1, 1000)], policy(cap=100), Insured("employee", fund_paid_fen=200), (1000, 0, 0, 1000)),
    ([item("甲", 1, 1000)], policy(ratio=BP, cap=300), Insured("employee"), (1000, 300, 0, 700)),
    ([item("甲", 1, 1000)], policy(ratio=0), Insured("employee"), (1000, 0, 0, 1000)),
    ([item("乙", 1, 1)], policy(ratio=BP, b=1000), Insured("employee"), (1, 0, 0, 1)),  # 0.1 fen rounds up to 1
    ([item("乙", 1, 999)], policy(ratio=BP, b=0), Insured("employee"), (999, 999, 0, 0)),
    ([item("乙", 1, 999)], policy(ratio=BP, b=BP), Insured("employee"), (999, 0, 0, 999)),
    ([item("甲", 1, 3)], policy(ratio=5000), Insured("employee"), (3, 1, 0, 2)),  # 1.5 fen rounds down
    ([item("甲", 1, 1000)], policy(covers=COVERS), Insured("employee", account_balance_fen=0), (1000, 800, 0, 200)),
    ([item("甲", 1, MAX_ITEM_FEN)], policy(ratio=BP, cap=10**11), Insured("employee"),
     (MAX_ITEM_FEN, MAX_ITEM_FEN, 0, 0)),
])
def test_edge_cases(items, pol, insured, expected):
    assert parts(adjudicate(items, pol, insured)) == expected


def test_over_cap_with_full_ratio_is_the_rest_of_the_eligible_amount():
    split = adjudicate([item("甲", 1, 1000)], policy(deductible=100, ratio=BP, cap=300), Insured("employee"))
    assert (split.deductible_applied_fen, split.insurance_fund_fen, split.co_pay_fen, split.over_cap_fen) == (
        100, 300, 0, 600)


@pytest.mark.parametrize(("quantity", "price"), [
    (0, 100), (-1, 100), (True, 100), (1.0, 100), (1, -1), (1, 1.5), (1, False), (1, "100"),
    (1, MAX_ITEM_FEN + 1), (3, 3_333_333_334), (10**6, 10**5),
])
def test_bad_or_absurd_items_are_rejected(quantity, price):
    with pytest.raises(ValueError):
        item("甲", quantity, price)


def test_unknown_insurance_class_is_rejected():
    with pytest.raises(InsuranceInputError):
        item("丁", 1, 100)


@pytest.mark.parametrize("changes", [
    {"fund_ratio_bp": BP + 1}, {"fund_ratio_bp": -1}, {"fund_ratio_bp": 0.8}, {"class_b_self_ratio_bp": 10_001},
    {"deductible_fen": -1}, {"deductible_fen": 100.0}, {"annual_cap_fen": None}, {"insurance_type": "commercial"},
    {"setting": "emergency"}, {"personal_account_covers": frozenset({"everything"})},
    {"personal_account_covers": "class_c"},
])
def test_bad_policies_are_rejected(changes):
    fields = dict(insurance_type="employee", setting="outpatient", deductible_fen=0, fund_ratio_bp=8000,
                  class_b_self_ratio_bp=1000, annual_cap_fen=0)
    with pytest.raises(ValueError):
        Policy(**{**fields, **changes})


def test_policy_accepts_covers_as_a_list_from_a_json_column():
    assert policy(covers=["class_c", "class_c"]).personal_account_covers == frozenset({"class_c"})


@pytest.mark.parametrize("changes", [{"insurance_type": "nhs"}, {"deductible_paid_fen": -1},
                                     {"fund_paid_fen": 1.0}, {"account_balance_fen": True}])
def test_bad_insured_is_rejected(changes):
    with pytest.raises(ValueError):
        Insured(**{"insurance_type": "employee", **changes})


def test_policy_for_another_insurance_type_is_rejected():
    with pytest.raises(InsuranceInputError):
        adjudicate([item("甲", 1, 100)], policy("employee"), Insured("resident"))


# --- defaults ---

@pytest.mark.parametrize(("level", "rank"), [("三级甲等", 3), ("三级乙等", 3), ("二级甲等", 2), (" 二级", 2),
                                             ("一级", 1), ("一级甲等", 1)])
def test_hospital_level_rank(level, rank):
    assert hospital_level_rank(level) == rank


@pytest.mark.parametrize("level", ["社区", "", "3", None, "甲等三级"])
def test_unknown_hospital_level_is_rejected(level):
    with pytest.raises(InsuranceInputError):
        default_policies(level)


def test_default_policies_are_sensible():
    by_level = {rank: default_policies(level) for rank, level in ((1, "一级"), (2, "二级甲等"), (3, "三级甲等"))}
    for policies in by_level.values():
        assert set(policies) == {(kind, setting) for kind in INSURANCE_TYPES for setting in SETTINGS}
        for kind in ("employee", "resident"):
            # Outpatient pooling pays less than inpatient; employees are reimbursed at least as well as residents.
            assert policies[kind, "outpatient"].fund_ratio_bp < policies[kind, "inpatient"].fund_ratio_bp
            assert policies[kind, "inpatient"].class_b_self_ratio_bp == 1000
        for setting in SETTINGS:
            assert policies["employee", setting].fund_ratio_bp >= policies["resident", setting].fund_ratio_bp
            assert policies["resident", setting].personal_account_covers == frozenset()
            self_pay = policies["self_pay", setting]
            assert (self_pay.fund_ratio_bp, self_pay.annual_cap_fen, self_pay.personal_account_covers) == (
                0, 0, frozenset())
    for key in by_level[1]:
        if key[0] != "self_pay":  # higher-level hospitals: higher deductible, lower ratio (分级诊疗)
            assert by_level[1][key].fund_ratio_bp > by_level[2][key].fund_ratio_bp > by_level[3][key].fund_ratio_bp
            assert by_level[1][key].deductible_fen <= by_level[2][key].deductible_fen <= by_level[3][key].deductible_fen
    assert (by_level[3]["employee", "inpatient"].fund_ratio_bp, by_level[3]["resident", "inpatient"].fund_ratio_bp) \
        == (8000, 6000)


# --- adapter ---

CONTEXT = SettlementContext("hsp_1", "三级甲等", "outpatient")


def test_local_adjudicator_is_an_insurance_adapter_and_accepts_bill_item_rows():
    adapter = LocalAdjudicator()
    assert isinstance(adapter, InsuranceAdapter)
    rows = [SimpleNamespace(code="A", name="a", category="drug", quantity=2, unit_price_fen=50_000,
                            amount_fen=100_000, insurance_class="甲")]
    split = adapter.pre_settle(rows, Insured("employee"), CONTEXT)
    expected = adjudicate([item("甲", 2, 50_000)], default_policies("三级甲等")["employee", "outpatient"],
                          Insured("employee"))
    assert parts(split) == parts(expected) == (100_000, 20_000, 0, 80_000)  # 600 元 deductible, then 50 %


def test_local_adjudicator_uses_the_lookup():
    seen = []

    def lookup(context, insurance_type):
        seen.append((context.hospital_id, insurance_type, context.setting))
        return policy("resident", "outpatient", ratio=BP)

    split = LocalAdjudicator(lookup).pre_settle([item("甲", 1, 100)], Insured("resident"), CONTEXT)
    assert (seen, split.insurance_fund_fen) == ([("hsp_1", "resident", "outpatient")], 100)


def test_local_adjudicator_rejects_a_lookup_for_the_wrong_setting():
    adapter = LocalAdjudicator(lambda context, kind: policy(kind, "inpatient"))
    with pytest.raises(InsuranceInputError):
        adapter.pre_settle([item("甲", 1, 100)], Insured("employee"), CONTEXT)


def test_local_adjudicator_rejects_rows_whose_amount_disagrees():
    row = SimpleNamespace(code="A", name="a", category="drug", quantity=2, unit_price_fen=5, amount_fen=11,
                          insurance_class="甲")
    with pytest.raises(InsuranceInputError):
        LocalAdjudicator().pre_settle([row], Insured("employee"), CONTEXT)


# --- properties ---

money = st.integers(0, 10**8)
items_st = st.lists(st.builds(item, st.sampled_from(["甲", "乙", "丙", None]), st.integers(1, 1000),
                              st.one_of(st.integers(0, 10**6), st.integers(0, 10**7))), max_size=12)
policies_st = st.builds(Policy, st.sampled_from(INSURANCE_TYPES), st.sampled_from(SETTINGS), money,
                        st.integers(0, BP), st.integers(0, BP), st.one_of(money, st.integers(0, 10**5)),
                        st.frozensets(st.sampled_from(COVERS)))


@st.composite
def scenarios(draw):
    """A bill, a policy, and an insured of the policy's insurance type."""
    pol = draw(policies_st)
    small = st.one_of(st.integers(0, 10**4), money)  # small values so deductibles and caps often bind
    insured = Insured(pol.insurance_type, draw(small), draw(small), draw(small))
    return draw(items_st), pol, insured


def check_invariants(split: Split, items, pol: Policy, insured: Insured):
    """Every invariant the split promises."""
    numbers = [value for value in vars(split).values() if not isinstance(value, tuple)]
    assert all(type(value) is int and value >= 0 for value in numbers)
    assert split.total_fen == sum(i.quantity * i.unit_price_fen for i in items)
    assert split.insurance_fund_fen + split.personal_account_fen + split.self_pay_fen == split.total_fen
    assert split.in_scope_fen + split.class_b_self_fen + split.class_c_fen == split.total_fen
    assert (split.deductible_applied_fen + split.co_pay_fen + split.over_cap_fen + split.insurance_fund_fen
            == split.in_scope_fen)
    for name in ("in_scope_fen", "class_b_self_fen", "class_c_fen"):
        assert sum(getattr(line, name) for line in split.items) == getattr(split, name)
    cap_left = max(0, pol.annual_cap_fen - insured.fund_paid_fen)
    eligible = split.in_scope_fen - split.deductible_applied_fen
    assert split.deductible_applied_fen <= max(0, pol.deductible_fen - insured.deductible_paid_fen)
    assert split.insurance_fund_fen <= eligible
    assert split.insurance_fund_fen <= cap_left
    assert split.insurance_fund_fen * BP <= eligible * pol.fund_ratio_bp  # never over-reimbursed
    assert split.personal_account_fen <= insured.account_balance_fen
    if insured.insurance_type == "self_pay":
        assert split.insurance_fund_fen == split.personal_account_fen == 0
    else:
        # Not under-reimbursed either: the full rounded-down share unless the cap stops it.
        assert split.insurance_fund_fen == min(eligible * pol.fund_ratio_bp // BP, cap_left)
        assert split.deductible_applied_fen == min(split.in_scope_fen,
                                                   max(0, pol.deductible_fen - insured.deductible_paid_fen))
    if split.over_cap_fen:
        assert split.insurance_fund_fen == cap_left
    if "class_c" not in pol.personal_account_covers:
        assert split.self_pay_fen >= split.class_c_fen


@given(scenarios())
def test_split_invariants_hold(scenario):
    items, pol, insured = scenario
    check_invariants(adjudicate(items, pol, insured), items, pol, insured)


@given(scenarios(), st.randoms(use_true_random=False))
def test_item_order_does_not_change_the_split(scenario, rnd: random.Random):
    items, pol, insured = scenario
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert parts(adjudicate(shuffled, pol, insured)) == parts(adjudicate(items, pol, insured))


@given(scenarios(), money)
def test_more_account_balance_never_costs_the_patient_more(scenario, extra):
    items, pol, insured = scenario
    richer = Insured(insured.insurance_type, insured.deductible_paid_fen, insured.fund_paid_fen,
                     insured.account_balance_fen + extra)
    before, after = adjudicate(items, pol, insured), adjudicate(items, pol, richer)
    assert after.insurance_fund_fen == before.insurance_fund_fen
    assert after.self_pay_fen <= before.self_pay_fen


@given(st.lists(st.builds(item, st.sampled_from(["甲", "乙", "丙", None]), st.just(1),
                          st.integers(MAX_ITEM_FEN - 10**6, MAX_ITEM_FEN)), min_size=1, max_size=5),
       policies_st)
def test_invariants_hold_for_the_largest_accepted_amounts(items, pol):
    insured = Insured(pol.insurance_type, 0, 0, 10**12)
    check_invariants(adjudicate(items, pol, insured), items, pol, insured)


@given(st.integers(1, 10**6), st.integers(0, 10**8))
def test_amount_limit_is_exact(quantity, price):
    if quantity * price > MAX_ITEM_FEN:
        with pytest.raises(ValueError):
            item("甲", quantity, price)
    else:
        assert item("甲", quantity, price).amount_fen == quantity * price
