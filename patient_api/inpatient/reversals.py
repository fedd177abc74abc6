"""Reversals (冲销/退费) of HIS charge lines: a negative line naming the line it takes back, checked whole.

HIS never edits or deletes a charged line; it books a negative one against it (退费 of an unused drug, a
wrong quantity). A reversal repeats its original's item and price and may take back at most what is left
of it, counting every earlier reversal and the others in the same push. The caller holds the admission's lock.
"""
import sqlalchemy as sa

from ..errors import Invalid
from ..extensions import db
from .models import Charge

MATCHED = ("code", "name", "category", "unit_price_fen", "insurance_class")  # the same item: it nets out in the bill
REFUSALS = {
    "reversed_charge_not_found": ("冲销的原费用不存在", "reverses_source_id", "未找到该费用明细"),
    "reversal_mismatch": ("冲销行的项目（编码、名称、类别、单价、医保类别）与原费用不一致", "reverses_source_id",
                          "与原费用的项目不一致"),
    "reversal_exceeds_charge": ("冲销数量超过原费用未冲销的数量", "quantity", "超过原费用未冲销的数量"),
}


def check_reversals(admission, new):
    """422 naming every bad reversal among the `new` lines (originals stored or earlier in this push)."""
    reversals = [(n, item) for n, item in enumerate(new) if item.get("reverses_source_id")]
    if not reversals:
        return
    targets = {item["reverses_source_id"] for _, item in reversals}
    originals = {c.source_id: c for c in db.session.scalars(sa.select(Charge).where(
        Charge.admission_id == admission.id, Charge.source_id.in_(targets)))}
    originals.update({i["source_id"]: i for i in new if not i.get("reverses_source_id")})
    left = _left_to_reverse(admission, originals)
    errors, first = {}, None
    for n, item in reversals:
        code = _refusal(originals.get(item["reverses_source_id"]), item, left)
        if code:
            first = first or code
            _, field, detail = REFUSALS[code]
            errors[str(n)] = {field: [detail]}
    if first:
        raise Invalid(REFUSALS[first][0], code=first, errors={"items": errors})


def _left_to_reverse(admission, originals):
    """{original source_id: quantity not yet reversed} before this push."""
    reversed_so_far = dict(db.session.execute(
        sa.select(Charge.reverses_source_id, sa.func.sum(-Charge.quantity)).where(
            Charge.admission_id == admission.id, Charge.reverses_source_id.in_(list(originals)))
        .group_by(Charge.reverses_source_id)).all())
    return {source_id: _get(original, "quantity") - int(reversed_so_far.get(source_id) or 0)
            for source_id, original in originals.items()}


def _refusal(original, item, left):
    """Why this reversal cannot be booked (a REFUSALS code), or None; takes its quantity off `left`."""
    if original is None or _get(original, "reverses_source_id"):  # a reversal is never reversed itself
        return "reversed_charge_not_found"
    if any(_get(original, field) != item[field] for field in MATCHED):
        return "reversal_mismatch"
    target = item["reverses_source_id"]
    if -item["quantity"] > left[target]:
        return "reversal_exceeds_charge"
    left[target] += item["quantity"]
    return None


def _get(original, field):
    """A field of a stored Charge or of a line of this push."""
    return original.get(field) if isinstance(original, dict) else getattr(original, field)
