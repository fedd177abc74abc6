"""What HIS pushes about inpatients: admissions, daily charges, orders complete, discharge orders.

Every push is checked whole before anything is written, under the admission's row lock, so a bad
push stores nothing and a push racing the discharge review is either in the bill or refused.
"""
from datetime import timedelta

import sqlalchemy as sa

from ..accounts import cards, people
from ..accounts.identity import parse_resident_id
from ..common import audit
from ..common.clock import now, to_local, today_local
from ..common.locking import lock_row
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from .models import OPEN_FOR_CHARGES, Admission, Charge
from .money import charges_total_fen
from .reversals import check_reversals

MAX_ADMISSION_FEN = 1_000_000_000  # 1,000 万元: past this a push is a data error, not a stay
CLOCK_SKEW = timedelta(minutes=5)


def _patient(hospital, ref):
    """The patient with that ID number, created from the hospital's data when not registered yet (the hospital's
    name replaces a resident's typing); 422 only when it contradicts the name read from the person's ID card."""
    resident = parse_resident_id(ref["id_number"])
    known = people.patient_by_id_number(resident.number)
    if known is not None and known.name_source == "card" and known.name != ref["name"].strip():
        raise Invalid("姓名与身份证登记的不一致，请核对后重新推送", code="unknown_patient",
                      errors={"patient": ["姓名与身份证号不一致"]})
    patient = people.from_hospital(resident, ref["name"])
    people.record_phone(patient.id_number_index, ref.get("phone"), "his_admission", hospital.id)
    cards.record_card(patient.id_number_index, ref.get("insurance_card_no"), "his_admission", hospital.id)
    return patient


def admission_by_no(hospital, admission_no):
    """The hospital's admission with that number; 404 admission_not_found."""
    admission = db.session.scalars(sa.select(Admission).filter_by(
        hospital_id=hospital.id, admission_no=admission_no)).first()
    if admission is None:
        raise NotFound("未找到该住院记录", code="admission_not_found")
    return admission


def push_admission(hospital, body, instant=None):
    """Create the admission once; a re-push moves the bed (转床/转科) while it is open. Returns (admission, created)."""
    instant = instant or now()
    if body["admitted_at"] > instant + CLOCK_SKEW:
        raise Invalid("入院时间不能晚于当前时间", errors={"admitted_at": ["晚于当前时间"]})
    patient = _patient(hospital, body["patient"])
    existing = db.session.scalars(sa.select(Admission).filter_by(
        hospital_id=hospital.id, admission_no=body["admission_no"])).first()
    if existing is not None:
        return _repush(existing, patient, body), False
    other = db.session.scalars(sa.select(Admission.admission_no).where(
        Admission.hospital_id == hospital.id, Admission.patient_id == patient.id,
        Admission.status != "settled")).first()
    if other is not None:
        raise Conflict(f"该患者已有未结算的住院记录（{other}）", code="already_admitted")
    admission = Admission(hospital_id=hospital.id, patient_id=patient.id, admission_no=body["admission_no"],
                          ward_code=body["ward_code"], ward_name=body.get("ward_name"),
                          department=body.get("department"), bed_no=body["bed_no"],
                          insurance_type=body["insurance_type"], admitted_at=body["admitted_at"])
    try:
        with db.session.begin_nested():
            db.session.add(admission)
    except sa.exc.IntegrityError:  # pushed twice at once (the first wins), or two open stays at once (refused)
        twin = db.session.scalars(sa.select(Admission).filter_by(
            hospital_id=hospital.id, admission_no=body["admission_no"])).first()
        if twin is None:
            raise Conflict("该患者已有未结算的住院记录", code="already_admitted") from None
        return _repush(twin, patient, body), False
    audit.record("hospital", hospital.id, "admission.create", patient_id=patient.id, resource=admission.id)
    return admission, True


def _repush(admission, patient, body):
    """Same admission again: identical is a no-op; a new ward or bed is a transfer, a new insurance type a
    correction (both while the stay is open); another patient is refused."""
    if admission.patient_id != patient.id:
        raise Conflict("住院号已属于其他患者", code="admission_conflict")
    same_ward = body["ward_code"] == admission.ward_code  # another ward's name must not stick to the new one
    place = (body["ward_code"], body.get("ward_name") or (admission.ward_name if same_ward else None), body["bed_no"],
             body["insurance_type"])
    if place == (admission.ward_code, admission.ward_name, admission.bed_no, admission.insurance_type):
        return admission
    lock_row(Admission, admission.id)
    db.session.refresh(admission)
    if admission.status not in OPEN_FOR_CHARGES:
        raise Conflict("该住院已出院审核，不能再变更", code="admission_closed")
    admission.ward_code, admission.ward_name, admission.bed_no, admission.insurance_type = place
    audit.record("hospital", admission.hospital_id, "admission.update", patient_id=admission.patient_id,
                 resource=admission.id, ward=place[0], bed=place[2], insurance_type=place[3])
    return admission


def push_charges(hospital, admission_no, items):
    """Add charge lines; re-sent lines (same source_id, same content) are skipped. Returns a summary."""
    admission = admission_by_no(hospital, admission_no)
    lock_row(Admission, admission.id)
    db.session.refresh(admission)
    if admission.status not in OPEN_FOR_CHARGES:
        raise Conflict("该住院已结算，不能再记账或冲销" if admission.status == "settled" else
                       "该住院已出院审核，不能再记账或冲销", code="admission_closed")
    _check_dates(admission, items)
    stored = {c.source_id: c for c in db.session.scalars(sa.select(Charge).where(
        Charge.admission_id == admission.id, Charge.source_id.in_([i["source_id"] for i in items])))}
    clashes = {str(n): {"source_id": ["已存在且内容不同"]} for n, item in enumerate(items)
               if item["source_id"] in stored and not stored[item["source_id"]].same_as(item)}
    if clashes:
        raise Conflict("费用明细编号已存在且内容不同", code="source_id_conflict", errors={"items": clashes})
    new = [item for item in items if item["source_id"] not in stored]
    total = charges_total_fen(admission.id) + sum(i["quantity"] * i["unit_price_fen"] for i in new)
    if total > MAX_ADMISSION_FEN:
        raise Invalid("住院费用总额超出范围", code="charges_out_of_range", errors={"items": ["总额超出范围"]})
    check_reversals(admission, new)
    db.session.add_all(Charge(admission_id=admission.id, amount_fen=i["quantity"] * i["unit_price_fen"],
                              source_id=i["source_id"], **{f: i.get(f) for f in Charge.FIELDS}) for i in new)
    db.session.flush()
    return {"admission_id": admission.id, "accepted": len(new), "duplicates": len(items) - len(new),
            "charges_total_fen": total}


def _check_dates(admission, items):
    """Each line falls within the stay: not before admission, not after the discharge date, not in the future."""
    first = to_local(admission.admitted_at).date()
    last = to_local(admission.discharge_at).date() if admission.discharge_at else today_local()
    errors = {}
    for n, item in enumerate(items):
        if item["charge_date"] < first:
            errors[str(n)] = {"date": ["早于入院日期"]}
        elif item["charge_date"] > last:
            errors[str(n)] = {"date": ["晚于出院日期" if admission.discharge_at else "晚于今天"]}
    if errors:
        code = "charge_after_discharge" if admission.discharge_at and any(
            item["charge_date"] > last for item in items) else "validation_error"
        raise Invalid("费用日期不在住院期间", code=code, errors={"items": errors})


def orders_complete(hospital, admission_no, instant=None):
    """All orders are executed or stopped (医嘱已完成): discharge review may proceed."""
    admission = admission_by_no(hospital, admission_no)
    lock_row(Admission, admission.id)
    db.session.refresh(admission)
    if admission.orders_pending:
        admission.orders_pending, admission.orders_completed_at = False, instant or now()
        audit.record("hospital", hospital.id, "admission.orders_complete", patient_id=admission.patient_id,
                     resource=admission.id)
    return admission


def discharge_order(hospital, admission_no, discharge_at=None, instant=None):
    """The doctor ordered discharge (出院医嘱); repeated orders change nothing."""
    instant = instant or now()
    admission = admission_by_no(hospital, admission_no)
    lock_row(Admission, admission.id)
    db.session.refresh(admission)
    discharge_at = discharge_at or instant
    if discharge_at < admission.admitted_at or discharge_at > instant + timedelta(days=2):
        raise Invalid("出院时间不合理", errors={"discharge_at": ["早于入院时间或晚于两天后"]})
    if admission.status == "admitted":
        admission.status, admission.discharge_at = "discharge_ordered", discharge_at
        audit.record("hospital", hospital.id, "admission.discharge_order", patient_id=admission.patient_id,
                     resource=admission.id)
    return admission
