"""Who may see and act on a referral: staff of its sending or receiving hospital with the role referrer (or the
hospital's admin), and the accounts with a verified link to its patient. Everyone else gets 404."""
import sqlalchemy as sa

from ..accounts import links
from ..accounts.staff import Staff
from ..common import audit
from ..common.auth import current_staff_id
from ..common.locking import lock_row
from ..errors import Forbidden, NotFound, Unauthorized
from ..extensions import db
from .models import Referral

ROLES = ("referrer", "admin")  # a hospital admin may do everything a referrer may at its hospital


def referral_not_found():
    """The same answer for a missing referral and one of other hospitals."""
    return NotFound("未找到该转诊单", code="referral_not_found")


def current_staff():
    """The signed-in staff member, a referrer or admin (401 without a session, 403 role_forbidden)."""
    staff = db.session.get(Staff, current_staff_id())
    if staff is None:
        raise Unauthorized("登录已过期，请重新登录", code="session_expired")
    if staff.role not in ROLES:
        raise Forbidden("当前角色无权办理转诊", code="role_forbidden")
    return staff


def staff_referral(staff, referral_id, lock=False):
    """A referral sent from or to the staff member's hospital; 404 otherwise. `lock`: under its row lock, fresh."""
    referral = db.session.get(Referral, referral_id)
    if referral is None or staff.hospital_id not in (referral.from_hospital_id, referral.to_hospital_id):
        raise referral_not_found()
    if lock:
        lock_row(Referral, referral.id)
        db.session.refresh(referral)
    return referral


def side(staff, referral):
    """sending | receiving: which end of the referral the staff member's hospital is."""
    return "sending" if referral.from_hospital_id == staff.hospital_id else "receiving"


def require_side(staff, referral, wanted):
    """403 referral_side_forbidden when the step belongs to the other hospital."""
    if side(staff, referral) != wanted:
        who = "转出方" if wanted == "sending" else "接收方"
        raise Forbidden(f"该操作只能由{who}办理", code="referral_side_forbidden")


def audited(staff, action, referral, **detail):
    """Record a staff action on a referral."""
    return audit.record("staff", staff.id, action, patient_id=referral.patient_id, resource=referral.id, **detail)


def resident_patients(account_id, patient_id=None):
    """Patients whose referrals the account may read: the one asked for (403 unverified, 404 no link), else every
    verified one."""
    return links.clinical_patients(account_id, patient_id)


def resident_referral(account_id, referral_id):
    """A referral of a patient the account holds a verified link to; 404 otherwise."""
    referral = db.session.get(Referral, referral_id)
    link = referral and links.link_of(account_id, referral.patient_id)
    if link is None or not link.active:
        raise referral_not_found()
    if not link.verified:
        raise links.verification_required()
    return referral


def for_patients(patient_ids):
    """Referrals of these patients, newest first (a few per person, so not paged)."""
    if not patient_ids:
        return []
    return db.session.scalars(sa.select(Referral).where(Referral.patient_id.in_(patient_ids))
                              .order_by(Referral.created_at.desc(), Referral.id).limit(200)).all()
