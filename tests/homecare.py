"""Helpers for 互联网+护理 tests: a hospital with an admin, dispatchers and nurses, a published service, requests."""
import json
import re
from datetime import timedelta

import sqlalchemy as sa

from patient_api.common.clock import now
from patient_api.common.notify import CHANNEL
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db
from patient_api.homecare.models import HomecareOrder

from .inpatient import Hospital

AREA = "370902"  # 泰山区
ADDRESS = "泰安市泰山区龙潭路29号阳光小区3号楼2单元501室"
PHONE = "13912345678"
ENGLISH = re.compile(r"[A-Za-z]+ [A-Za-z]+")
CJK = re.compile(r"[\u4e00-\u9fff]")


def service_body(**changes):
    """上门换药: 120 元 + travel by band, two consumables, for the bed-bound, the recently discharged or the elderly."""
    body = {
        "code": "HC001", "name": "上门换药", "description": "伤口评估、清创、更换敷料，指导家属日常护理",
        "service_fee_fen": 12000, "duration_minutes": 45,
        "eligibility": {"match": "any", "rules": [
            {"kind": "bed_bound"}, {"kind": "discharged_within_days", "days": 30},
            {"kind": "age_at_least_years", "years": 60}]},
        "travel_bands": [{"code": "A", "name": "3公里以内", "fee_fen": 3000},
                         {"code": "B", "name": "3-10公里", "fee_fen": 5000}],
        "consumables": [{"code": "FL01", "name": "无菌敷料包", "unit": "包", "unit_price_fen": 1500},
                        {"code": "YP02", "name": "碘伏棉签", "unit": "盒", "unit_price_fen": 800}],
        "areas": [AREA, "370911"],
    }
    body.update(changes)
    return body


def window(hours_ahead=48, length_hours=2):
    """A preferred window starting `hours_ahead` from now, as ISO strings."""
    start = now() + timedelta(hours=hours_ahead)
    return start.isoformat(), (start + timedelta(hours=length_hours)).isoformat()


def request_body(service_id, patient_id, hours_ahead=48, **changes):
    """A bed-bound patient's request for a visit in two days."""
    start, end = window(hours_ahead)
    body = {"service_id": service_id, "patient_id": patient_id, "address": ADDRESS, "area_code": AREA,
            "window_start": start, "window_end": end, "condition": "术后伤口换药，行动不便", "mobility": "bed_bound",
            "contact_phone": PHONE, "distance_band": "A"}
    body.update(changes)
    return body


class Homecare:
    """One hospital offering home nursing: its admin, a dispatcher, nurses, a service and residents."""

    def __init__(self, app, client, make, code="H1"):
        self.app, self.client, self.make = app, client, make
        self.hospital = Hospital(app, client, make, code)
        self.admin = self.hospital.staff(role="admin", wards="")
        self.dispatcher = self.hospital.staff(role="dispatcher", wards="")
        self.nurse = self.hospital.staff(role="nurse", wards="")
        self.nurse_id = self.staff_id(self.nurse)
        self.service = self.publish()
        self.qualify(self.nurse_id, [self.service["id"]])

    def staff_id(self, headers):
        return self.client.get("/api/v1/staff/me", headers=headers).json["id"]

    def publish(self, **changes):
        response = self.client.post("/api/v1/staff/homecare/services", json=service_body(**changes),
                                    headers=self.admin)
        assert response.status_code == 201, response.json
        return response.json

    def qualify(self, nurse_id, service_ids):
        response = self.client.put(f"/api/v1/staff/homecare/nurses/{nurse_id}/qualifications",
                                   json={"service_ids": service_ids}, headers=self.admin)
        assert response.status_code == 200, response.json
        return response.json

    def resident(self, verified=True):
        """(headers, patient_id) of a new resident with one patient."""
        headers, patient_id, _ = self.hospital.resident(verified=verified)
        return headers, patient_id

    def request(self, headers, patient_id, expect=201, **changes):
        response = self.client.post("/api/v1/me/homecare/orders",
                                    json=request_body(self.service["id"], patient_id, **changes), headers=headers)
        assert response.status_code == expect, response.json
        return response.json

    def staff_post(self, headers, order_id, step, body=None, expect=200):
        kwargs = {"json": body} if body is not None else {}
        response = self.client.post(f"/api/v1/staff/homecare/orders/{order_id}/{step}", headers=headers, **kwargs)
        assert response.status_code == expect, response.json
        return response.json

    def assign(self, order_id, nurse_id=None, band=None, expect=200):
        return self.staff_post(self.dispatcher, order_id, "assign",
                               {"nurse_id": nurse_id or self.nurse_id, "distance_band": band}, expect)

    def accepted(self, headers, patient_id, **changes):
        """A request assigned to the nurse and accepted by her; returns the order."""
        order = self.request(headers, patient_id, **changes)
        self.assign(order["id"])
        return self.staff_post(self.nurse, order["id"], "accept")

    def in_visit(self, headers, patient_id, **changes):
        order = self.accepted(headers, patient_id, **changes)
        return self.staff_post(self.nurse, order["id"], "check-in", {"lat": 36.19, "lng": 117.12})


def orders_count(app):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(HomecareOrder))


def told(app, order_id, channel=CHANNEL):
    """[(destination, event)] queued about this order on a channel, in order."""
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == channel)
                                  .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
        return [(row.destination, row.event) for row in rows
                if json.loads(row.payload).get("homecare_order_id") == order_id]


def assert_refused(response, status, code):
    """A refusal with its code and a Chinese message (no English sentence)."""
    assert response.status_code == status, response.json
    assert response.json["code"] == code, response.json
    messages = [response.json["message"], *_messages(response.json.get("errors", {}))]
    assert all(CJK.search(m) and not ENGLISH.search(m) for m in messages), messages


def _messages(errors):
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in _messages(value)]
    if isinstance(errors, list):
        return [m for value in errors for m in _messages(value)]
    return [errors]
