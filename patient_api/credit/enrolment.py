"""Opting in and out: a verified account enrols a linked patient per hospital (or city-wide) under the consent."""
import sqlalchemy as sa

from ..accounts import links
from ..accounts.models import Patient
from ..common.clock import now
from ..common.locking import lock_row
from ..directory.models import Hospital
from ..errors import Conflict, NotFound
from ..extensions import db
from . import consent, policy
from .models import CITY, CreditBill, CreditEnrolment


def hospital_or_404(hospital_id):
    """The hospital named by a request (None stays None: city-wide)."""
    if hospital_id is None:
        return None
    hospital = db.session.get(Hospital, hospital_id)
    if hospital is None:
        raise NotFound("未找到该医院", code="hospital_not_found")
    return hospital


def enrol(account_id, patient_id, hospital_id, consent_version, instant=None):
    """Open (or renew) credit for the patient; returns the enrolment. 403 verification_required on an unverified
    link, 409 consent_outdated, credit_not_eligible, credit_blocked or credit_overdue_elsewhere."""
    instant = instant or now()
    links.verified_link(account_id, patient_id)
    hospital_or_404(hospital_id)
    if consent_version != consent.VERSION:
        raise Conflict(f"《{consent.TITLE}》已更新，请阅读并同意最新版本后再开通", code="consent_outdated")
    if not policy.terms(hospital_id)["enabled"]:
        raise Conflict("该医院暂未开通先诊疗后付费服务", code="credit_not_eligible")
    lock_row(Patient, patient_id, keep_keys=True)  # one patient's enrolments, contract and blocks change one at a time
    refused = policy.refusal(patient_id, hospital_id, instant)
    if refused is not None:
        raise refused
    patient = db.session.get(Patient, patient_id)
    limit_fen, basis = policy.limit_for(patient, hospital_id)
    scope = hospital_id or CITY
    row = db.session.scalars(sa.select(CreditEnrolment).filter_by(patient_id=patient_id, scope=scope)).first()
    if row is None:
        row = CreditEnrolment(patient_id=patient_id, hospital_id=hospital_id, scope=scope)
        db.session.add(row)
    # A renewal under a lower policy never takes back credit already given: the limit stays at least what is open.
    used = open_fen(row.id) if row.id else 0
    row.status, row.left_at, row.limit_fen, row.limit_basis = "active", None, max(limit_fen, used), basis
    row.consent_version, row.consented_at, row.consented_by = consent_version, instant, account_id
    db.session.flush()
    return row


def enrolment_of(patient_id, enrolment_id):
    """One of the patient's enrolments; 404 credit_not_enrolled otherwise."""
    row = db.session.get(CreditEnrolment, enrolment_id)
    if row is None or row.patient_id != patient_id:
        raise NotFound("未开通先诊疗后付费", code="credit_not_enrolled")
    return row


def leave(account_id, patient_id, enrolment_id, instant=None):
    """Close an enrolment; 409 credit_open_bills while anything under it is unpaid."""
    links.verified_link(account_id, patient_id)
    row = enrolment_of(patient_id, enrolment_id)
    lock_row(CreditEnrolment, row.id)  # a bill taken on credit right now waits, then sees the enrolment left
    db.session.refresh(row)
    if row.status != "active":
        return row
    if open_fen(row.id):
        raise Conflict("还有待结算的费用，请结清后再关闭先诊疗后付费", code="credit_open_bills")
    row.status, row.left_at = "left", instant or now()
    db.session.flush()
    return row


def open_fen(enrolment_id):
    """Credit in use under an enrolment: bills taken on credit and not yet paid (open or in a settlement)."""
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CreditBill.amount_fen), 0)).where(
        CreditBill.enrolment_id == enrolment_id, CreditBill.status.in_(("open", "settling")))))


def covering(patient_id, hospital_id):
    """The active enrolment that covers a bill at this hospital: the hospital's own, else the city-wide one."""
    rows = db.session.scalars(sa.select(CreditEnrolment).where(
        CreditEnrolment.patient_id == patient_id, CreditEnrolment.status == "active",
        CreditEnrolment.scope.in_((hospital_id, CITY)))).all()
    return next((row for row in rows if row.scope == hospital_id), None) or next(iter(rows), None)
