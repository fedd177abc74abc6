"""The catalogue a hospital publishes (admins write it, anyone reads it) and which nurse may do which service."""
import json

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..accounts.staff import Staff
from ..common import audit
from ..common.clock import now
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from .access import service_not_found
from .models import HomecareQualification, HomecareService


def _fill(service, body):
    service.code, service.name, service.description = body["code"], body["name"], body["description"]
    service.service_fee_fen, service.duration_minutes = body["service_fee_fen"], body["duration_minutes"]
    service.eligibility_json = json.dumps(body["eligibility"], ensure_ascii=False)
    service.travel_bands_json = json.dumps(body["travel_bands"], ensure_ascii=False)
    service.consumables_json = json.dumps(body["consumables"], ensure_ascii=False)
    service.areas = ",".join(body["areas"])
    service.active = body["active"]
    service.updated_at = now()


def _saved(service):
    """Flush; another service of the hospital with the same code is 409 service_code_taken (nothing stored)."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict("本院已有相同编码的护理服务", code="service_code_taken") from None
    return service


def create(staff, body):
    """A new service of the admin's hospital."""
    service = HomecareService(hospital_id=staff.hospital_id)
    _fill(service, body)
    db.session.add(service)
    _saved(service)
    audit.record("staff", staff.id, "homecare.service_create", resource=service.id, code=service.code)
    return service


def update(staff, service, body):
    """Replace a service's definition; orders already made keep the prices they were given."""
    _fill(service, body)
    _saved(service)
    audit.record("staff", staff.id, "homecare.service_update", resource=service.id, active=service.active)
    return service


def published(hospital_id=None, area_code=None):
    """Active services, optionally of one hospital and covering one area; by hospital, then name."""
    stmt = sa.select(HomecareService).where(HomecareService.active.is_(True))
    if hospital_id:
        stmt = stmt.where(HomecareService.hospital_id == hospital_id)
    services = db.session.scalars(stmt.order_by(HomecareService.hospital_id, HomecareService.code)).all()
    return [s for s in services if area_code is None or s.covers(area_code)]


def published_one(service_id):
    """An active service; 404 for an unknown or withdrawn one."""
    service = db.session.get(HomecareService, service_id)
    if service is None or not service.active:
        raise service_not_found()
    return service


def of_hospital(hospital_id):
    """Every service of a hospital, withdrawn ones too (the admin's view)."""
    return db.session.scalars(sa.select(HomecareService).where(HomecareService.hospital_id == hospital_id)
                              .order_by(HomecareService.code)).all()


def nurse_not_found():
    """A nurse of another hospital, or a staff member who is not a nurse, cannot be chosen."""
    return NotFound("未找到该护士", code="nurse_not_found")


def hospital_nurse(hospital_id, staff_id):
    """A nurse of the hospital; 404 otherwise."""
    nurse = db.session.get(Staff, staff_id)
    if nurse is None or nurse.hospital_id != hospital_id or nurse.role != "nurse":
        raise nurse_not_found()
    return nurse


def qualifications(staff_ids):
    """{staff id: [service id, …]} for these nurses."""
    found = {staff_id: [] for staff_id in staff_ids}
    for staff_id, service_id in db.session.execute(sa.select(
            HomecareQualification.staff_id, HomecareQualification.service_id).where(
            HomecareQualification.staff_id.in_(list(staff_ids))).order_by(HomecareQualification.service_id)).all():
        found[staff_id].append(service_id)
    return found


def nurses(hospital_id, service_id=None):
    """The hospital's nurses with what each may do (only those qualified for `service_id` when given)."""
    rows = db.session.scalars(sa.select(Staff).where(Staff.hospital_id == hospital_id, Staff.role == "nurse")
                              .order_by(Staff.username)).all()
    granted = qualifications([nurse.id for nurse in rows])
    return [{"id": nurse.id, "username": nurse.username, "service_ids": granted[nurse.id]} for nurse in rows
            if service_id is None or service_id in granted[nurse.id]]


def set_qualifications(admin, nurse, service_ids):
    """Replace what a nurse may do; every service must be of the admin's hospital (422 unknown_service)."""
    wanted = set(service_ids)
    known = set(db.session.scalars(sa.select(HomecareService.id).where(
        HomecareService.hospital_id == admin.hospital_id, HomecareService.id.in_(wanted))).all())
    if wanted - known:
        raise Invalid("护理服务不存在或不属于本院", code="unknown_service",
                      errors={"service_ids": [f"未知的服务：{', '.join(sorted(wanted - known))}"]})
    db.session.execute(sa.delete(HomecareQualification).where(HomecareQualification.staff_id == nurse.id,
                                                              HomecareQualification.service_id.not_in(wanted)))
    have = set(qualifications([nurse.id])[nurse.id])
    db.session.add_all(HomecareQualification(staff_id=nurse.id, service_id=service_id, granted_by=admin.id)
                       for service_id in sorted(wanted - have))
    db.session.flush()
    audit.record("staff", admin.id, "homecare.qualifications_set", resource=nurse.id, service_ids=sorted(wanted))
    return {"id": nurse.id, "username": nurse.username, "service_ids": sorted(wanted)}


def qualified(nurse_id, service_id):
    """The nurse may do this service."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(HomecareQualification).where(
        HomecareQualification.staff_id == nurse_id, HomecareQualification.service_id == service_id)) > 0
