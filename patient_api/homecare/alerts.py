"""The dispatchers' alert list: raised by the jobs and complaints (notices.alert), read and acknowledged here."""
import sqlalchemy as sa

from ..common import audit
from ..common.clock import now
from ..common.paging import page
from ..errors import NotFound
from ..extensions import db
from .models import HomecareAlert


def listed(staff, query):
    """The hospital's alerts newest first; only unacknowledged ones with `open`."""
    stmt = sa.select(HomecareAlert).where(HomecareAlert.hospital_id == staff.hospital_id)
    if query.get("open"):
        stmt = stmt.where(HomecareAlert.acknowledged_at.is_(None))
    rows, paging = page(stmt, HomecareAlert.created_at, HomecareAlert.id, query)
    return {"items": [row[0] for row in rows], **paging}


def acknowledge(staff, alert_id, instant=None):
    """Mark an alert of the hospital seen (once; again changes nothing); 404 for another hospital's."""
    alert = db.session.get(HomecareAlert, alert_id)
    if alert is None or alert.hospital_id != staff.hospital_id:
        raise NotFound("未找到该提醒", code="alert_not_found")
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = instant or now(), staff.id
        audit.record("staff", staff.id, "homecare.alert_acknowledge", resource=alert.id, kind=alert.kind)
    return alert
