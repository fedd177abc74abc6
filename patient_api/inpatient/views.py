"""What residents and nurses see of an admission: money, flags, the daily list."""
from collections import defaultdict

import sqlalchemy as sa

from ..accounts.models import Patient
from ..common.clock import today_local
from ..common.masking import mask_name
from ..directory.models import Hospital
from ..extensions import db
from .models import Admission, Charge
from .money import summary, ward_totals
from .settlement import settlement_of

OPEN = ("admitted", "discharge_ordered", "reviewed", "awaiting_payment")


def _flags(admission, available_fen, hospital):
    """Why a nurse should look at this bed."""
    flags = []
    if admission.status in ("admitted", "discharge_ordered") and available_fen < hospital.low_deposit_fen:
        flags.append("low_deposit")
    if admission.orders_pending and admission.status != "admitted":
        flags.append("orders_pending")  # discharge ordered but orders still open: review will be refused
    if admission.status == "awaiting_payment":
        flags.append("balance_due")
    return flags


def render(admission, money=None, hospital=None, patient=None, settlement=None):
    """One admission as the API shows it (the patient's name masked); `money` is looked up when not given."""
    if money is None:
        settlement = settlement_of(admission.id)
        money = summary(admission, settlement)
    hospital = hospital or db.session.get(Hospital, admission.hospital_id)
    patient = patient or db.session.get(Patient, admission.patient_id)
    return {**{field: getattr(admission, field) for field in (
        "id", "admission_no", "hospital_id", "patient_id", "status", "ward", "ward_code", "department", "bed_no",
        "insurance_type", "admitted_at", "discharge_at", "orders_pending")},
        **money, "patient_name": mask_name(patient.name), "deposit_cap_fen": hospital.deposit_cap_fen,
        "flags": _flags(admission, money["available_fen"], hospital),
        "settlement_id": settlement.id if settlement else None}


def for_patients(patient_ids):
    """Admissions of these patients, newest first."""
    admissions = db.session.scalars(sa.select(Admission).where(Admission.patient_id.in_(patient_ids))
                                    .order_by(Admission.admitted_at.desc(), Admission.id).limit(50)).all()
    return [render(admission) for admission in admissions]


def ward_list(hospital_id, ward_code):
    """Every open admission of a ward by bed, with balances and flags (batched: a ward has ~50 beds)."""
    admissions = db.session.scalars(sa.select(Admission).where(
        Admission.hospital_id == hospital_id, Admission.ward_code == ward_code, Admission.status.in_(OPEN))
        .order_by(Admission.bed_no, Admission.id)).all()
    totals = ward_totals([a.id for a in admissions])
    hospital = db.session.get(Hospital, hospital_id)
    patients = {p.id: p for p in db.session.scalars(sa.select(Patient).where(
        Patient.id.in_([a.patient_id for a in admissions])))}
    rows = []
    for admission in admissions:
        if admission.status == "awaiting_payment":  # settled in part: deposits were applied
            rows.append(render(admission, None, hospital, patients[admission.patient_id]))
            continue
        held, charges = totals[admission.id]  # before settlement no deposit has been applied or refunded
        money = {"deposits_fen": held, "deposit_balance_fen": held, "charges_total_fen": charges,
                 "available_fen": held - charges}
        rows.append(render(admission, money, hospital, patients[admission.patient_id]))
    return rows


def daily_charges(admission, day=None):
    """The 一日清单: one day's lines grouped by category, plus every day with charges and its total."""
    day = day or today_local()
    lines = db.session.scalars(sa.select(Charge).where(Charge.admission_id == admission.id, Charge.charge_date == day)
                               .order_by(Charge.category, Charge.id)).all()
    groups = defaultdict(list)
    for line in lines:
        groups[line.category].append(line)
    days = db.session.execute(sa.select(Charge.charge_date, sa.func.sum(Charge.amount_fen))
                              .where(Charge.admission_id == admission.id)
                              .group_by(Charge.charge_date).order_by(Charge.charge_date)).all()
    return {"admission_id": admission.id, "date": day, "total_fen": sum(line.amount_fen for line in lines),
            "categories": [{"category": category, "total_fen": sum(line.amount_fen for line in items), "items": items}
                           for category, items in groups.items()],
            "days": [{"date": d.isoformat(), "total_fen": int(total)} for d, total in days]}
