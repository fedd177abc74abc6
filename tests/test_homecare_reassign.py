"""改派: a dispatcher moves an assigned order to another qualified nurse before the visit starts. The old nurse loses
the order at once (list, detail, address, visit steps), the new one gets it, both nurses and the family are told,
the move is audited; once the nurse has checked in it is 409 visit_started."""
import json

import pytest
import sqlalchemy as sa

from patient_api.accounts.staff import Staff
from patient_api.common.audit import AuditEntry
from patient_api.common.outbox import OutboxMessage
from patient_api.errors import NotFound
from patient_api.extensions import db
from patient_api.homecare import visits
from patient_api.homecare.models import HomecareOrder
from patient_api.homecare.notices import STAFF_CHANNEL

from .homecare import ADDRESS, Homecare, assert_refused, told

REASON = "原护士临时生病，改由其他护士上门"


@pytest.fixture
def care(app, client, make):
    care = Homecare(app, client, make)
    care.second = care.hospital.staff(role="nurse", wards="")
    care.second_id = care.staff_id(care.second)
    care.qualify(care.second_id, [care.service["id"]])
    return care


def reassign(care, order_id, nurse_id, reason=REASON, headers=None):
    return care.client.post(f"/api/v1/staff/homecare/orders/{order_id}/reassign",
                            json={"nurse_id": nurse_id, "reason": reason}, headers=headers or care.dispatcher)


def staff_payloads(app, order_id, event):
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxMessage).where(
            OutboxMessage.channel == STAFF_CHANNEL, OutboxMessage.event == event).order_by(OutboxMessage.created_at))
        return [(row.destination, json.loads(row.payload)) for row in rows
                if json.loads(row.payload)["homecare_order_id"] == order_id]


def test_the_old_nurse_loses_the_order_at_once_and_the_new_one_gets_it(app, client, care):
    headers, patient_id = care.resident()
    order = care.accepted(headers, patient_id)
    care.staff_post(care.nurse, order["id"], "depart")
    path = f"/api/v1/staff/homecare/orders/{order['id']}"
    assert client.get(path, headers=care.nurse).json["address"] == ADDRESS  # before: hers, address and all

    moved = reassign(care, order["id"], care.second_id)
    assert moved.status_code == 200, moved.json
    assert (moved.json["status"], moved.json["nurse_id"]) == ("assigned", care.second_id)
    assert moved.json["nurse_accepted_at"] is None and moved.json["departed_at"] is None
    assert moved.json["address_visible"] is False and moved.json["address"].endswith("****")

    # The old nurse: gone from her list, a 404 for the order, its address, its shared record and every step.
    assert client.get("/api/v1/staff/homecare/orders", headers=care.nurse).json["items"] == []
    assert_refused(client.get(path, headers=care.nurse), 404, "homecare_order_not_found")
    assert_refused(client.get(f"{path}/shared-record", headers=care.nurse), 404, "homecare_order_not_found")
    for step, body in (("accept", None), ("depart", None), ("check-in", {}), ("record", {"notes": "已换药"}),
                       ("check-out", None)):
        assert_refused(client.post(f"{path}/{step}", json=body, headers=care.nurse), 404, "homecare_order_not_found")

    # The new nurse: listed, masked until she accepts, then the address.
    assert [o["id"] for o in client.get("/api/v1/staff/homecare/orders", headers=care.second).json["items"]] == [
        order["id"]]
    assert client.get(path, headers=care.second).json["address_visible"] is False
    accepted = care.staff_post(care.second, order["id"], "accept")
    assert accepted["address"] == ADDRESS and accepted["status"] == "accepted"
    care.staff_post(care.second, order["id"], "check-in", {})

    assert staff_payloads(app, order["id"], "homecare.unassigned") == [
        (care.nurse_id, {"homecare_order_id": order["id"], "reason": REASON})]
    assert [who for who, _ in staff_payloads(app, order["id"], "homecare.assigned")] == [care.nurse_id,
                                                                                        care.second_id]
    family = [event for _, event in told(app, order["id"])]
    assert family.count("homecare.reassigned") == 1
    inbox = {m["event"]: m for m in client.get("/api/v1/me/messages?limit=50", headers=headers).json["items"]}
    assert inbox["homecare.reassigned"]["title"] == "已更换上门护士"
    assert inbox["homecare.reassigned"]["path"] == f"/homecare/orders/{order['id']}"
    with app.app_context():
        (entry,) = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "homecare.reassign")).all()
        assert (entry.actor_id, entry.resource, entry.patient_id) == (care.staff_id(care.dispatcher), order["id"],
                                                                       patient_id)
        assert json.loads(entry.detail) == {"from_nurse_id": care.nurse_id, "to_nurse_id": care.second_id,
                                            "reason": REASON}

    # Checked in: the visit has started, it stays hers.
    assert_refused(reassign(care, order["id"], care.nurse_id), 409, "visit_started")


def test_refusals_change_nothing(app, client, care):
    headers, patient_id = care.resident()
    order = care.request(headers, patient_id)
    assert_refused(reassign(care, order["id"], care.second_id), 409, "invalid_order_state")  # 派单 first
    care.assign(order["id"])
    unqualified = care.hospital.staff(role="nurse", wards="")
    other = Homecare(app, client, care.make, code="H2")
    assert_refused(reassign(care, order["id"], care.staff_id(unqualified)), 422, "nurse_not_qualified")
    assert_refused(reassign(care, order["id"], care.nurse_id), 422, "same_nurse")
    assert_refused(reassign(care, order["id"], other.nurse_id), 404, "nurse_not_found")
    assert_refused(reassign(care, order["id"], care.second_id, headers=care.nurse), 403, "role_forbidden")
    assert_refused(reassign(care, order["id"], care.second_id, headers=other.dispatcher), 404,
                   "homecare_order_not_found")
    for body in ({"nurse_id": care.second_id}, {"nurse_id": care.second_id, "reason": "改"},
                 {"nurse_id": care.second_id, "reason": "改" * 201}, {"reason": REASON}):
        assert_refused(client.post(f"/api/v1/staff/homecare/orders/{order['id']}/reassign", json=body,
                                   headers=care.dispatcher), 422, "validation_error")
    assert client.get(f"/api/v1/staff/homecare/orders/{order['id']}", headers=care.nurse).status_code == 200
    with app.app_context():
        assert db.session.get(HomecareOrder, order["id"]).nurse_id == care.nurse_id
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "homecare.reassign")) == 0
    assert staff_payloads(app, order["id"], "homecare.unassigned") == []
    assert "homecare.reassigned" not in [event for _, event in told(app, order["id"])]
    # An admin may move it too; a cancelled order cannot be moved.
    assert reassign(care, order["id"], care.second_id, headers=care.admin).status_code == 200
    assert client.post(f"/api/v1/me/homecare/orders/{order['id']}/cancel", headers=headers).status_code == 200
    assert_refused(reassign(care, order["id"], care.nurse_id), 409, "invalid_order_state")


def test_a_step_the_old_nurse_had_loaded_before_the_move_is_refused(app, client, care):
    headers, patient_id = care.resident()
    order = care.accepted(headers, patient_id)
    with app.app_context():
        nurse = db.session.get(Staff, care.nurse_id)
        stale = db.session.get(HomecareOrder, order["id"])  # she opened it; the dispatcher moves it meanwhile
        db.session.execute(sa.update(HomecareOrder).where(HomecareOrder.id == order["id"]).values(
            nurse_id=care.second_id, status="accepted"))
        with pytest.raises(NotFound):
            visits.check_in(nurse, stale)
        db.session.rollback()
