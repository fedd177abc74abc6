"""What a message can say: the outbox payload and the rows it names, formatted for WeChat and masked.

Payload keys ending in `_fen` become amounts in 元 (`amount_fen` → `amount`), keys ending in `_at`
become Asia/Shanghai times (`paid_at` → `paid_time`); ids pull in the hospital, department, doctor,
visit time, ward and the patient's masked name.
"""
from datetime import datetime
from decimal import Decimal

from ..accounts.models import Patient
from ..billing.models import Bill
from ..booking.models import Appointment
from ..common.clock import to_local
from ..common.masking import mask_name
from ..directory.models import Department, Hospital, Schedule
from ..extensions import db
from ..homecare.models import HomecareOrder
from ..inpatient.models import Admission
from ..records.models import FamilyDoctorContract
from ..referrals.models import Referral
from ..results.models import Report

BILL_KINDS = {"registration": "挂号费", "outpatient": "门诊缴费", "inpatient_deposit": "住院预交金",
              "inpatient_settlement": "出院结算", "homecare": "上门护理", "credit_settlement": "先诊疗后付费结算"}
REPORT_KINDS = {"lab": "检验报告", "imaging": "检查报告", "outpatient": "门诊病历", "inpatient": "出院小结"}
FOLLOWUP_KINDS = {"blood_pressure": "血压", "glucose": "血糖", "heart_rate": "心率", "weight": "体重",
                  "temperature": "体温"}
# How a bill was paid, in at most five Chinese characters (a phrase keyword).
PAY_METHODS = {"wechat_jsapi": "微信支付", "wechat_native": "微信支付", "wechat_papay": "自动扣费",
               "counter": "窗口缴费", "insurance": "医保支付"}


def yuan(fen):
    """12.00元 from 1200 fen (exact: Decimal, never float)."""
    return f"{Decimal(int(fen)) / 100:.2f}元"


def _deposit_balance(facts, balance_fen):
    """deposit.low: a WeChat amount keyword takes no minus sign (errcode 47003), so arrears are said in words and the
    balance shown is 0.00元 — the resident who owes most still gets the message."""
    facts["available"] = yuan(max(0, balance_fen))
    advice = f"已欠费{yuan(-balance_fen)}" if balance_fen < 0 else "预交金余额不足"
    facts["deposit_advice"] = advice + "，请及时缴纳"


def local_time(instant):
    """2026-05-02 08:30 in Asia/Shanghai."""
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant)
    return to_local(instant).strftime("%Y-%m-%d %H:%M")


def gather(payload):
    """All facts about one message; missing rows simply leave their facts out."""
    facts = {}
    for key, value in payload.items():
        if value is None:
            continue
        facts[key] = value
        if key.endswith("_fen"):
            facts[key[:-4]] = yuan(value)
        elif key.endswith("_at"):
            facts[key[:-3] + "_time"] = local_time(value)
    if payload.get("method"):
        facts["pay_method"] = PAY_METHODS.get(payload["method"], "其他方式")
    if "low_deposit_fen" in payload and payload.get("available_fen") is not None:
        _deposit_balance(facts, int(payload["available_fen"]))
    for key, add in (("appointment_id", _appointment), ("bill_id", _bill), ("admission_id", _admission),
                     ("report_id", _report), ("homecare_order_id", _homecare),
                     ("family_contract_id", _family_contract), ("referral_id", _referral)):
        if payload.get(key):
            add(facts, payload[key])
    if facts.get("patient_id") and "patient" not in facts:
        name = db.session.scalar(db.select(Patient.name).where(Patient.id == facts["patient_id"]))
        if name:
            facts["patient"] = mask_name(name)
    return facts


def _hospital(facts, hospital_id):
    facts.setdefault("hospital", db.session.scalar(db.select(Hospital.name).where(Hospital.id == hospital_id)))


def _appointment(facts, appointment_id):
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None:
        return
    schedule = db.session.get(Schedule, appointment.schedule_id)
    _hospital(facts, appointment.hospital_id)
    facts.setdefault("patient_id", appointment.patient_id)
    facts.setdefault("department", db.session.scalar(db.select(Department.name)
                                                     .where(Department.id == appointment.department_id)))
    facts.setdefault("doctor", f"{schedule.doctor.name} {schedule.doctor.title}")
    facts.setdefault("visit_time", local_time(appointment.visit_start))
    facts.setdefault("visit_date", str(appointment.visit_date))
    facts.setdefault("queue_no", f"{appointment.queue_no}号")


def _bill(facts, bill_id):
    bill = db.session.get(Bill, bill_id)
    if bill is None:
        return
    _hospital(facts, bill.hospital_id)
    facts.setdefault("patient_id", bill.patient_id)
    facts.setdefault("bill_item", BILL_KINDS.get(bill.kind, "医疗费用"))
    if bill.department:
        facts.setdefault("department", bill.department)


def _admission(facts, admission_id):
    admission = db.session.get(Admission, admission_id)
    if admission is None:
        return
    _hospital(facts, admission.hospital_id)
    facts.setdefault("patient_id", admission.patient_id)
    facts.setdefault("ward", f"{admission.ward_name or admission.ward_code} {admission.bed_no}床")


def _report(facts, report_id):
    report = db.session.get(Report, report_id)
    if report is None:
        return
    _hospital(facts, report.hospital_id)
    facts.setdefault("report_title", report.title)
    facts.setdefault("report_kind", REPORT_KINDS.get(report.kind, "报告"))
    facts.setdefault("issued_time", local_time(report.issued_at))


def _homecare(facts, order_id):
    order = db.session.get(HomecareOrder, order_id)
    if order is None:
        return
    _hospital(facts, order.hospital_id)
    facts.setdefault("patient_id", order.patient_id)
    facts.setdefault("homecare_service", order.service.name)
    facts.setdefault("homecare_window", f"{local_time(order.window_start)}-{to_local(order.window_end):%H:%M}")
    # WeChat's time keyword joins the two ends of a period with "~".
    facts.setdefault("homecare_window_time", f"{local_time(order.window_start)}~{to_local(order.window_end):%H:%M}")


def _family_contract(facts, contract_id):
    contract = db.session.get(FamilyDoctorContract, contract_id)
    if contract is None:
        return
    _hospital(facts, contract.hospital_id)
    if contract.patient_id:
        facts.setdefault("patient_id", contract.patient_id)
    facts.setdefault("family_team", contract.team)
    facts.setdefault("family_doctor", contract.doctor)
    facts.setdefault("family_package", contract.package or "")
    facts.setdefault("family_ends_on", contract.ends_on.strftime("%Y-%m-%d"))


def _referral(facts, referral_id):
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        return
    hospitals = {h.id: h for h in db.session.scalars(db.select(Hospital).where(
        Hospital.id.in_((referral.from_hospital_id, referral.to_hospital_id)))).all()}
    facts.setdefault("patient_id", referral.patient_id)
    facts.setdefault("referral_from", hospitals[referral.from_hospital_id].name)
    facts.setdefault("referral_to", hospitals[referral.to_hospital_id].name)
    facts.setdefault("hospital_address", hospitals[referral.to_hospital_id].address or "")
    facts.setdefault("referral_direction", "上转" if referral.direction == "up" else "下转")
    if referral.followup_kind:
        facts.setdefault("referral_followup", f"每{referral.followup_every_days}天测"
                                              f"{FOLLOWUP_KINDS.get(referral.followup_kind, '')}")
