"""Limits and standing: what a patient may be granted at a hospital, and whether anything forbids new credit."""
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..billing.presettlement import InsuredAccount
from ..common.clock import today_local
from ..errors import Conflict
from ..extensions import db
from ..records.models import FamilyDoctorContract
from .models import UNPAID, CreditBlock, CreditPolicy, CreditSettlement

OVERDUE_AFTER = timedelta(days=1)  # a settlement unpaid a day after it fell due is overdue (the D+1 reminder)


def terms(hospital_id):
    """The hospital's limits (its credit_policies row, else the configured defaults) and whether it offers credit;
    city-wide (hospital_id None) uses the defaults."""
    row = db.session.get(CreditPolicy, hospital_id) if hospital_id else None
    config = current_app.config
    if row is None:
        return {"enabled": True, "base_limit_fen": config["CREDIT_BASE_LIMIT_FEN"],
                "family_doctor_limit_fen": config["CREDIT_FAMILY_DOCTOR_LIMIT_FEN"],
                "insured_limit_fen": config["CREDIT_INSURED_LIMIT_FEN"]}
    return {"enabled": row.enabled, "base_limit_fen": row.base_limit_fen,
            "family_doctor_limit_fen": row.family_doctor_limit_fen, "insured_limit_fen": row.insured_limit_fen}


def has_family_doctor(patient):
    """An active 家庭医生签约 covering today."""
    today = today_local()
    return db.session.scalar(sa.select(sa.func.count()).select_from(FamilyDoctorContract).where(
        FamilyDoctorContract.person_index == patient.id_number_index, FamilyDoctorContract.status == "active",
        FamilyDoctorContract.starts_on <= today, FamilyDoctorContract.ends_on >= today)) > 0


def is_insured(patient):
    """The insurance platform reports a scheme other than self-pay for the person."""
    account = db.session.get(InsuredAccount, patient.id)
    return account is not None and account.insurance_type != "self_pay"


def limit_for(patient, hospital_id):
    """(limit_fen, basis): the highest of the hospital's base, family-doctor and insured limits that apply."""
    found = terms(hospital_id)
    options = [(found["base_limit_fen"], "base")]
    if has_family_doctor(patient):
        options.append((found["family_doctor_limit_fen"], "family_doctor"))
    if is_insured(patient):
        options.append((found["insured_limit_fen"], "insured"))
    return max(options, key=lambda option: option[0])


def active_blocks(patient_id, hospital_id=None):
    """Blocks in force for the patient at this hospital (its own and the city-wide ones); all when hospital_id None."""
    query = sa.select(CreditBlock).where(CreditBlock.patient_id == patient_id, CreditBlock.status == "active")
    if hospital_id is not None:
        query = query.where(sa.or_(CreditBlock.hospital_id.is_(None), CreditBlock.hospital_id == hospital_id))
    return db.session.scalars(query.order_by(CreditBlock.created_at)).all()


def overdue(patient_id, instant):
    """The patient's settlements, at any hospital, unpaid a day past their due time."""
    return db.session.scalars(sa.select(CreditSettlement).where(
        CreditSettlement.patient_id == patient_id, CreditSettlement.status.in_(UNPAID),
        CreditSettlement.due_at <= instant - OVERDUE_AFTER).order_by(CreditSettlement.due_at)).all()


def refusal(patient_id, hospital_id, instant):
    """Why no new credit may be given here now (a 409 to raise), or None."""
    blocks = active_blocks(patient_id, hospital_id)
    if blocks:
        city = any(block.hospital_id is None for block in blocks)
        return Conflict("因逾期未结算，您的先诊疗后付费服务已在全市暂停，付清欠费后自动恢复" if city else
                        "该医院已暂停为您提供先诊疗后付费服务，请到收费窗口咨询", code="credit_blocked")
    if overdue(patient_id, instant):
        return Conflict("您有逾期未支付的先诊疗后付费结算，请先完成支付", code="credit_overdue_elsewhere")
    return None
