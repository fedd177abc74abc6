"""Who may see an admission: residents through a patient link, staff through their hospital and wards."""

from ..accounts import links
from ..accounts.staff import Staff
from ..common import audit
from ..common.auth import current_staff_id
from ..errors import Forbidden, NotFound
from ..extensions import db
from .models import Admission

# What each staff role may do at the nurse station; everyone in scope may look.
RIGHTS = {"review": ("nurse", "admin"), "settle": ("nurse", "cashier", "admin")}


def _not_found():
    return NotFound("未找到该住院记录", code="admission_not_found")


def resident_admission(account_id, admission_id):
    """An admission of a verified patient; 403 verification_required unverified, 404 for anyone else's."""
    admission = db.session.get(Admission, admission_id)
    link = admission and links.link_of(account_id, admission.patient_id)
    if link is None or not link.active:
        raise _not_found()
    if not link.verified:
        raise links.verification_required()
    return admission


def current_staff():
    """The signed-in staff member (401 without a live staff session)."""
    return db.session.get(Staff, current_staff_id())


def covers_ward(staff, ward_code):
    """Admins see every ward of their hospital; nurses and cashiers only their own wards."""
    return staff.role == "admin" or ward_code in staff.ward_codes


def check_ward(staff, ward_code):
    """403 for a ward outside the staff member's scope (the attempt is audited)."""
    if not covers_ward(staff, ward_code):
        _denied(staff, "ward.access_denied", resource=ward_code)
        raise Forbidden("无权查看该病区", code="ward_forbidden")


def staff_admission(staff, admission_id):
    """An admission of the staff member's hospital and wards; 404 otherwise (its existence is not revealed)."""
    admission = db.session.get(Admission, admission_id)
    if admission is None:
        raise _not_found()
    if admission.hospital_id != staff.hospital_id or not covers_ward(staff, admission.ward_code):
        _denied(staff, "admission.access_denied", patient_id=admission.patient_id, resource=admission.id)
        raise _not_found()
    return admission


def _denied(staff, action, **where):
    """Keep a refused look at someone else's patient on record, although the request's answer rolls back."""
    audit.record("staff", staff.id, action, **where)
    db.session.commit()  # nothing else has been written yet: scope is checked before any change


def require_right(staff, right):
    """403 when the staff member's role may not do this."""
    if staff.role not in RIGHTS[right]:
        raise Forbidden("当前角色无权执行该操作", code="role_forbidden")


def audited(staff, action, admission, **detail):
    """Record a staff action on an admission (who, what, which patient, when)."""
    return audit.record("staff", staff.id, action, patient_id=admission.patient_id, resource=admission.id, **detail)
