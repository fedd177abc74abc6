"""Who may see and do what with home-care orders: requesters their own, staff their hospital's by role."""
from datetime import timedelta

from flask import current_app

from ..accounts import links
from ..accounts.staff import Staff
from ..common import audit
from ..common.auth import current_staff_id
from ..common.locking import lock_row
from ..errors import Forbidden, NotFound
from ..extensions import db
from .models import HomecareOrder, HomecareService

# What each staff role may do in 互联网+护理; a nurse acts only on the orders assigned to her.
RIGHTS = {"catalogue": ("admin",), "qualify": ("admin",), "dispatch": ("dispatcher", "admin"),
          "list": ("dispatcher", "admin", "nurse")}


def order_not_found():
    """The same answer for a missing order and someone else's."""
    return NotFound("未找到该护理订单", code="homecare_order_not_found")


def service_not_found():
    """A service that does not exist, is withdrawn or belongs to another hospital."""
    return NotFound("未找到该护理服务", code="homecare_service_not_found")


def current_staff():
    """The signed-in staff member (401 without a live staff session)."""
    return db.session.get(Staff, current_staff_id())


def require_right(staff, right):
    """403 role_forbidden when the staff member's role may not do this."""
    if staff.role not in RIGHTS[right]:
        raise Forbidden("当前角色无权执行该操作", code="role_forbidden")


def resident_order(account_id, order_id):
    """An order this account requested while it still holds a verified link to the patient; 404 for anyone else's
    (other proxies of the patient included) and once the link was revoked."""
    order = db.session.get(HomecareOrder, order_id)
    link = order and order.account_id == account_id and links.link_of(account_id, order.patient_id)
    if not link or not link.verified:
        raise order_not_found()
    return order


def staff_order(staff, order_id, right="list"):
    """An order of the staff member's hospital (a nurse: only one assigned to her); 404 otherwise, audited."""
    require_right(staff, right)
    order = db.session.get(HomecareOrder, order_id)
    if order is None:
        raise order_not_found()
    if order.hospital_id != staff.hospital_id or (staff.role == "nurse" and order.nurse_id != staff.id):
        audit.record("staff", staff.id, "homecare.access_denied", patient_id=order.patient_id, resource=order.id)
        db.session.commit()  # the refused look stays on record although the answer rolls back; nothing else written
        raise order_not_found()
    return order


def assigned_order(staff, order_id):
    """An order assigned to this nurse (404 otherwise): the visit steps are hers alone."""
    order = staff_order(staff, order_id)
    if order.nurse_id != staff.id:
        raise order_not_found()
    return order


def hospital_service(staff, service_id):
    """A catalogue service of the staff member's hospital (withdrawn ones too); 404 otherwise."""
    service = db.session.get(HomecareService, service_id)
    if service is None or service.hospital_id != staff.hospital_id:
        raise service_not_found()
    return service


def address_open(order, staff, instant):
    """The assigned nurse reads the address from her acceptance until HOMECARE_ADDRESS_HOURS after check-out."""
    if staff is None or order.nurse_id != staff.id or order.nurse_accepted_at is None:
        return False
    if order.status not in ("accepted", "in_visit", "finished"):
        return False
    if order.checked_out_at is None:
        return True
    return instant <= order.checked_out_at + timedelta(hours=current_app.config["HOMECARE_ADDRESS_HOURS"])


def audited(staff, action, order, **detail):
    """Record a staff action on an order (who, what, which patient, when)."""
    return audit.record("staff", staff.id, action, patient_id=order.patient_id, resource=order.id, **detail)


def locked(order):
    """The order under its row lock, fresh: every change takes turns (nurse, dispatcher, resident, jobs)."""
    lock_row(HomecareOrder, order.id)
    db.session.refresh(order)
    return order
