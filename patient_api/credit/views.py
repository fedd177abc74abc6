"""What residents and cashiers read about a patient's credit: limits, 待结算 bills with items and running totals,
settlements, the deduction contract and any suspension."""
import sqlalchemy as sa

from ..billing.models import Bill
from ..common.clock import now
from ..directory.models import Hospital
from ..extensions import db
from . import consent, enrolment, policy
from .contracts import contract_of
from .models import UNPAID, CreditBill, CreditEnrolment, CreditSettlement

CITY_NAME = "全市"


def _hospital_names(ids):
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Hospital.id, Hospital.name).where(Hospital.id.in_(ids))).all())


def terms_for(patient, hospital_id):
    """The policy as it applies to this patient at this hospital (or city-wide), with the consent to accept."""
    found = policy.terms(hospital_id)
    limit_fen, basis = policy.limit_for(patient, hospital_id)
    return {"hospital_id": hospital_id, **found, "limit_fen": limit_fen, "limit_basis": basis,
            "consent_version": consent.VERSION, "consent_title": consent.TITLE, "consent_text": consent.TEXT}


def _bill(bill, row):
    return {"bill_id": bill.id, "order_no": bill.order_no, "department": bill.department, "doctor": bill.doctor,
            "created_at": bill.created_at, "total_fen": bill.total_fen, "status": row.status,
            "settlement_id": row.settlement_id, "items": bill.items}


def pending(patient_id, hospital_id=None):
    """待结算: bills on credit not yet paid, by hospital, oldest first, each with its items and the running total."""
    query = sa.select(CreditBill, Bill).join(Bill, Bill.id == CreditBill.bill_id).where(
        CreditBill.patient_id == patient_id, CreditBill.status.in_(("open", "settling")))
    if hospital_id:
        query = query.where(CreditBill.hospital_id == hospital_id)
    rows = db.session.execute(query.order_by(CreditBill.created_at, CreditBill.bill_id)).all()
    names = _hospital_names(row.hospital_id for row, _ in rows)
    groups = {}
    for row, bill in rows:
        group = groups.setdefault(row.hospital_id, {"hospital_id": row.hospital_id,
                                                    "hospital_name": names.get(row.hospital_id, ""),
                                                    "total_fen": 0, "bills": []})
        group["total_fen"] += bill.total_fen
        group["bills"].append({**_bill(bill, row), "running_total_fen": group["total_fen"]})
    return list(groups.values())


def settlement_view(settlement, names=None, instant=None):
    """One settlement with its bills."""
    instant = instant or now()
    names = names if names is not None else _hospital_names([settlement.hospital_id])
    bill_ids = db.session.scalars(sa.select(CreditBill.bill_id).filter_by(settlement_id=settlement.id)
                                  .order_by(CreditBill.created_at)).all()
    return {"id": settlement.id, "hospital_id": settlement.hospital_id,
            "hospital_name": names.get(settlement.hospital_id, ""), "bill_id": settlement.bill_id,
            "status": settlement.status, "method": settlement.method, "trigger": settlement.trigger,
            "bill_count": settlement.bill_count, "bill_ids": bill_ids, "total_fen": settlement.total_fen,
            "insurance_fund_fen": settlement.insurance_fund_fen,
            "personal_account_fen": settlement.personal_account_fen, "self_pay_fen": settlement.self_pay_fen,
            "created_at": settlement.created_at, "due_at": settlement.due_at, "paid_at": settlement.paid_at,
            "overdue_at": settlement.due_at + policy.OVERDUE_AFTER,
            "overdue": settlement.status in UNPAID and settlement.due_at <= instant - policy.OVERDUE_AFTER,
            "deduction_attempts": settlement.deduction_attempts, "deduction_failed": settlement.deduction_failed}


def settlements(patient_id, hospital_id=None, unpaid_only=False, limit=100):
    """The patient's settlements, newest first."""
    query = sa.select(CreditSettlement).where(CreditSettlement.patient_id == patient_id)
    if hospital_id:
        query = query.where(CreditSettlement.hospital_id == hospital_id)
    if unpaid_only:
        query = query.where(CreditSettlement.status.in_(UNPAID))
    rows = db.session.scalars(query.order_by(CreditSettlement.created_at.desc(), CreditSettlement.id)
                              .limit(limit)).all()
    names = _hospital_names(row.hospital_id for row in rows)
    return [settlement_view(row, names) for row in rows]


def overview(patient_id, hospital_id=None, instant=None):
    """Everything about the patient's credit (at one hospital when hospital_id is given: the staff view)."""
    instant = instant or now()
    query = sa.select(CreditEnrolment).where(CreditEnrolment.patient_id == patient_id)
    if hospital_id:
        query = query.where(CreditEnrolment.scope.in_((hospital_id, "city")))
    rows = db.session.scalars(query.order_by(CreditEnrolment.created_at)).all()
    blocks = policy.active_blocks(patient_id, hospital_id)
    names = _hospital_names([row.hospital_id for row in rows] + [block.hospital_id for block in blocks])
    enrolments = [enrolment_view(row, names) for row in rows]
    contract = contract_of(patient_id)
    groups = pending(patient_id, hospital_id)
    return {
        "patient_id": patient_id, "consent_version": consent.VERSION, "enrolments": enrolments,
        "pending": groups, "pending_total_fen": sum(group["total_fen"] for group in groups),
        "settlements": settlements(patient_id, hospital_id, unpaid_only=True),
        "contract": None if contract is None else {"id": contract.id, "status": contract.status,
                                                   "created_at": contract.created_at, "signed_at": contract.signed_at},
        "suspended": bool(blocks),
        "blocks": [block_view(block, names) for block in blocks],
    }


def enrolment_view(row, names=None):
    """One enrolment with its limit, what is in use and what is left."""
    names = names if names is not None else _hospital_names([row.hospital_id])
    used = enrolment.open_fen(row.id)
    return {"id": row.id, "hospital_id": row.hospital_id, "hospital_name": names.get(row.hospital_id, CITY_NAME),
            "status": row.status, "limit_fen": row.limit_fen, "limit_basis": row.limit_basis, "open_fen": used,
            "available_fen": max(0, row.limit_fen - used) if row.status == "active" else 0,
            "consent_version": row.consent_version, "consented_at": row.consented_at, "left_at": row.left_at}


def block_view(block, names=None):
    """A suspension."""
    names = names if names is not None else _hospital_names([block.hospital_id])
    return {"id": block.id, "hospital_id": block.hospital_id, "hospital_name": names.get(block.hospital_id, CITY_NAME),
            "reason": block.reason, "created_at": block.created_at}


def contract_view(contract, redirect_url=None):
    """The contract as the resident reads it."""
    from ..billing.gateway import pay_gateway
    return {"id": contract.id, "status": contract.status, "out_contract_code": contract.out_contract_code,
            "created_at": contract.created_at, "signed_at": contract.signed_at, "redirect_url": redirect_url,
            "sandbox": not pay_gateway()[0].is_live}
