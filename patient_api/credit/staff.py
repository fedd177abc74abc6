"""What a hospital's cashier or admin may do with a patient's credit: look, settle at the window, suspend, lift."""
import sqlalchemy as sa

from ..accounts.models import Patient
from ..accounts.staff import Staff
from ..billing.models import Bill
from ..common import audit
from ..common.auth import current_staff_id
from ..common.clock import now
from ..common.locking import lock_row
from ..errors import Forbidden, NotFound
from ..extensions import db
from .models import CreditBlock, CreditEnrolment

ROLES = ("cashier", "admin")


def current_credit_staff():
    """The signed-in staff member, who must be a cashier or an admin (403 role_forbidden)."""
    staff = db.session.get(Staff, current_staff_id())
    if staff.role not in ROLES:
        raise Forbidden("当前角色无权执行该操作", code="role_forbidden")
    return staff


def staff_patient(staff, patient_id, action):
    """A patient the staff member's hospital knows (a bill there, or credit opened for that hospital); 404
    otherwise, so ids of other hospitals' patients reveal nothing. The access is audited."""
    patient = db.session.get(Patient, patient_id)
    if patient is None or not known_here(staff.hospital_id, patient_id):
        audit.record("staff", staff.id, "credit.access_denied", resource=str(patient_id)[:120])
        db.session.commit()  # kept although the answer is an error
        raise NotFound("未找到该就诊人", code="patient_not_found")
    audit.record("staff", staff.id, action, patient_id=patient_id, resource=staff.hospital_id)
    return patient


def known_here(hospital_id, patient_id):
    """True when the hospital has a bill of the patient or credit opened for that hospital."""
    return (db.session.scalar(sa.select(Bill.id).where(Bill.patient_id == patient_id,
                                                       Bill.hospital_id == hospital_id).limit(1)) is not None
            or db.session.scalar(sa.select(CreditEnrolment.id).where(
                CreditEnrolment.patient_id == patient_id, CreditEnrolment.scope == hospital_id).limit(1))
            is not None)


def suspend(staff, patient_id, note=None, instant=None):
    """暂停: no new credit for the patient at this hospital until lifted; repeating it returns the same block."""
    lock_row(Patient, patient_id, keep_keys=True)
    block = _staff_block(staff, patient_id)
    if block is None:
        block = CreditBlock(patient_id=patient_id, hospital_id=staff.hospital_id, reason="staff", note=note,
                            created_at=instant or now(), created_by=staff.id)
        db.session.add(block)
        db.session.flush()
    audit.record("staff", staff.id, "credit.suspend", patient_id=patient_id, resource=block.id, note=note or "")
    return block


def lift(staff, patient_id, instant=None):
    """解除暂停 of this hospital's suspension; 404 credit_block_not_found when there is none. Overdue suspensions
    lift themselves when the settlement is paid."""
    lock_row(Patient, patient_id, keep_keys=True)
    block = _staff_block(staff, patient_id)
    if block is None:
        raise NotFound("该就诊人在本院没有被暂停", code="credit_block_not_found")
    block.status, block.lifted_at, block.lifted_by = "lifted", instant or now(), staff.id
    db.session.flush()
    audit.record("staff", staff.id, "credit.lift", patient_id=patient_id, resource=block.id)
    return block


def staff_suspension(staff, patient_id):
    """This hospital's suspension in force, with the note and who set it (for the window), or None."""
    block = _staff_block(staff, patient_id)
    if block is None:
        return None
    by = db.session.get(Staff, block.created_by)
    return {"id": block.id, "note": block.note, "created_at": block.created_at,
            "created_by": by.username if by else None}


def _staff_block(staff, patient_id):
    return db.session.scalars(sa.select(CreditBlock).filter_by(
        patient_id=patient_id, hospital_id=staff.hospital_id, reason="staff", status="active")).first()
