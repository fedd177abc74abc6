"""互联网+护理 end to end through the API: catalogue → request → dispatch → visit → bill paid → rating."""
import json

import sqlalchemy as sa

from patient_api.billing import ledger
from patient_api.common.audit import AuditEntry
from patient_api.extensions import db
from patient_api.homecare.notices import STAFF_CHANNEL

from .homecare import ADDRESS, AREA, Homecare, told
from .inpatient import NOTIFY


def test_catalogue_is_public_and_filtered_by_hospital_and_area(app, client, make):
    care = Homecare(app, client, make)
    care.publish(code="HC002", name="PICC维护", areas=["370900"], active=True)  # the whole city
    care.publish(code="HC003", name="导尿管更换", active=False)  # withdrawn: not shown
    listed = client.get("/api/v1/homecare/services").json["items"]
    assert sorted(s["name"] for s in listed) == ["PICC维护", "上门换药"]
    one = next(s for s in listed if s["name"] == "上门换药")
    assert one["hospital_name"] == "测试医院H1" and one["travel_bands"][0] == {"code": "A", "name": "3公里以内",
                                                                          "fee_fen": 3000}
    assert one["eligibility"]["text"] == ["长期卧床或行动不便的患者", "30天内出院的患者", "年满60周岁的老人"]
    in_daiyue = client.get("/api/v1/homecare/services?area_code=370911").json["items"]
    assert sorted(s["name"] for s in in_daiyue) == ["PICC维护", "上门换药"]
    elsewhere = client.get("/api/v1/homecare/services?area_code=370983").json["items"]  # 肥城: only the city-wide one
    assert [s["name"] for s in elsewhere] == ["PICC维护"]
    assert client.get("/api/v1/homecare/services?area_code=110101").json["items"] == []
    assert client.get(f"/api/v1/homecare/services/{one['id']}").status_code == 200
    assert client.get("/api/v1/homecare/services?hospital_id=hsp_nope").json["items"] == []
    admin_view = client.get("/api/v1/staff/homecare/services", headers=care.admin).json["items"]
    assert len(admin_view) == 3  # the admin sees the withdrawn one too


def test_the_whole_visit_from_request_to_paid_bill_and_rating(app, client, make):
    care = Homecare(app, client, make)
    headers, patient_id = care.resident()

    order = care.request(headers, patient_id)
    assert order["status"] == "requested" and order["address"] == "泰安市泰山区****"
    assert order["contact_phone"] == "139****5678" and order["address_visible"] is False
    assert order["service_fee_fen"] == 12000 and order["travel_fee_fen"] == 3000 and order["nurse_id"] is None
    assert told(app, order["id"], STAFF_CHANNEL) == [(care.staff_id(care.dispatcher), "homecare.requested")]

    queue = client.get("/api/v1/staff/homecare/orders?status=requested", headers=care.dispatcher).json
    assert [o["id"] for o in queue["items"]] == [order["id"]] and queue["items"][0]["address"].endswith("****")
    qualified = client.get(f"/api/v1/staff/homecare/nurses?service_id={care.service['id']}",
                           headers=care.dispatcher).json["items"]
    assert [n["id"] for n in qualified] == [care.nurse_id]
    assigned = care.assign(order["id"], band="B")  # the dispatcher knows it is farther
    assert assigned["status"] == "assigned" and assigned["travel_fee_fen"] == 5000
    assert assigned["address_visible"] is False  # not until the nurse accepts

    mine = client.get("/api/v1/staff/homecare/orders", headers=care.nurse).json["items"]
    assert [o["id"] for o in mine] == [order["id"]] and mine[0]["address"].endswith("****")
    accepted = care.staff_post(care.nurse, order["id"], "accept")
    assert accepted["address"] == ADDRESS and accepted["address_visible"] is True
    assert accepted["contact_phone"] == "139****5678"  # the phone is never shown in full
    care.staff_post(care.nurse, order["id"], "depart")
    care.staff_post(care.nurse, order["id"], "depart")  # again: told once
    visiting = care.staff_post(care.nurse, order["id"], "check-in", {"lat": 36.1951, "lng": 117.0876})
    assert visiting["status"] == "in_visit" and visiting["check_in_location"] == {"lat": 36.1951, "lng": 117.0876}
    care.staff_post(care.nurse, order["id"], "record", {"notes": "伤口愈合良好，已清创换药", "consumables": [
        {"code": "FL01", "quantity": 2}]})
    recorded = care.staff_post(care.nurse, order["id"], "record", {"notes": "伤口愈合良好，已清创换药并指导家属",
                                                                   "consumables": [{"code": "FL01", "quantity": 2},
                                                                                   {"code": "YP02", "quantity": 1}]})
    assert recorded["consumables_fen"] == 3800 and recorded["total_fen"] == 12000 + 5000 + 3800
    done = care.staff_post(care.nurse, order["id"], "check-out")
    assert done["status"] == "finished" and done["bill_id"] and done["address"] == ADDRESS  # within 24 h

    bill = client.get(f"/api/v1/bills/{done['bill_id']}", headers=headers).json
    assert bill["kind"] == "homecare" and bill["status"] == "unpaid" and bill["total_fen"] == 20800
    assert [(i["code"], i["quantity"], i["amount_fen"]) for i in bill["items"]] == [
        ("HC-HC001", 1, 12000), ("HC-TRAVEL-B", 1, 5000), ("HC-C-FL01", 2, 3000), ("HC-C-YP02", 1, 800)]
    assert done["bill_id"] in [b["id"] for b in client.get("/api/v1/bills", headers=headers).json["items"]]
    pay = client.post(f"/api/v1/bills/{done['bill_id']}/payments", json={"method": "wechat_jsapi"}, headers=headers)
    assert pay.status_code == 201 and pay.json["amount_fen"] == 20800, pay.json
    wire = care.hospital.pay_at_wechat(pay.json["out_trade_no"])
    assert client.post(NOTIFY, data=wire[1], headers=wire[0]).status_code == 204
    assert client.get(f"/api/v1/bills/{done['bill_id']}", headers=headers).json["status"] == "paid"
    assert client.get(f"/api/v1/bills/{done['bill_id']}/invoice", headers=headers).status_code == 200
    paid = client.get(f"/api/v1/me/homecare/orders/{order['id']}", headers=headers).json
    assert paid["paid_at"] and paid["address"] == "泰安市泰山区****"  # the resident's answer masks it too
    with app.app_context():
        assert ledger.derived_status(done["bill_id"]) == "paid"

    rated = client.post(f"/api/v1/me/homecare/orders/{order['id']}/rating", json={"score": 5, "comment": "护士很专业"},
                        headers=headers)
    assert rated.status_code == 201 and rated.json["rating"]["score"] == 5
    again = client.post(f"/api/v1/me/homecare/orders/{order['id']}/rating", json={"score": 1}, headers=headers)
    assert again.status_code == 409 and again.json["code"] == "already_rated"
    complaint = client.post(f"/api/v1/me/homecare/orders/{order['id']}/complaint",
                            json={"text": "上门比约定时间晚了半小时"}, headers=headers)
    assert complaint.status_code == 201
    assert client.post(f"/api/v1/me/homecare/orders/{order['id']}/complaint", json={"text": "再投诉一次试试"},
                       headers=headers).json["code"] == "already_complained"
    alerts = client.get("/api/v1/staff/homecare/alerts", headers=care.dispatcher).json["items"]
    assert [(a["kind"], a["order_id"]) for a in alerts] == [("complaint", order["id"])]

    family = sorted(event for _, event in told(app, order["id"]))
    assert family == sorted(["homecare.accepted", "homecare.confirmed", "homecare.on_the_way", "homecare.started",
                             "homecare.finished"])
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.resource == order["id"])).all()
        paid_told = db.session.execute(sa.text(
            "SELECT payload FROM outbox WHERE event = 'payment.received'")).scalars().all()
    for step in ("homecare.assign", "homecare.nurse_accept", "homecare.depart", "homecare.check_in",
                 "homecare.record", "homecare.check_out", "homecare.address_view"):
        assert step in actions, step
    assert actions.count("homecare.depart") == 1
    inbox = {m["event"]: m for m in client.get("/api/v1/me/messages?limit=50", headers=headers).json["items"]}
    assert inbox["homecare.accepted"]["title"] == "护理申请已受理"
    first_line = inbox["homecare.accepted"]["lines"][0]
    assert "上门换药" in first_line and "测试医院H1" in first_line
    assert inbox["homecare.finished"]["lines"][1] == "应缴 208.00元"
    assert inbox["homecare.finished"]["path"] == f"/homecare/orders/{order['id']}"
    assert [json.loads(p)["bill_id"] for p in paid_told] == [done["bill_id"]]


def test_eligibility_by_a_recent_discharge_and_a_shared_report(app, client, make):
    from patient_api.accounts.models import Patient
    from patient_api.common.clock import now
    from patient_api.directory.models import Hospital
    from patient_api.results import store
    from patient_api.results.inputs import ReportIn
    from patient_api.results.models import Report

    care = Homecare(app, client, make)
    headers, patient_id, person = care.hospital.resident()
    refused = client.post("/api/v1/me/homecare/orders", json={
        **_body(care, patient_id), "mobility": "independent"}, headers=headers)
    assert refused.status_code == 422 and refused.json["code"] == "not_eligible"
    stay = care.hospital.admit(person, days_ago=10)
    care.hospital.signal(stay["admission_no"], "discharge-order", {"discharge_at": now().isoformat()})
    with app.app_context():
        index = db.session.get(Patient, patient_id).id_number_index
        hospital = db.session.scalars(sa.select(Hospital).filter_by(code="H1")).one()
        store.save_report(hospital, index, ReportIn(
            source_id="HC-CT-1", source_format="fhir", kind="imaging", title="下肢血管超声", status="final",
            issued_at=now(), impression="未见明显血栓"))
        db.session.commit()
        report_id = db.session.scalars(sa.select(Report.id).filter_by(source_id="HC-CT-1")).one()
    order = care.request(headers, patient_id, mobility="independent",
                         shared_record={"kind": "report", "id": report_id, "consent": True})
    assert order["shared_record"] == {"kind": "report", "consent": True}
    care.assign(order["id"])
    early = client.get(f"/api/v1/staff/homecare/orders/{order['id']}/shared-record", headers=care.nurse)
    assert early.status_code == 404  # not before she accepts
    care.staff_post(care.nurse, order["id"], "accept")
    shared = client.get(f"/api/v1/staff/homecare/orders/{order['id']}/shared-record", headers=care.nurse)
    assert shared.status_code == 200 and shared.json["report"]["impression"] == "未见明显血栓"
    log = client.get(f"/api/v1/patients/{patient_id}/access-log", headers=headers).json["items"]
    assert any(e["channel"] == "homecare" and e["resource_id"] == report_id for e in log)


def _body(care, patient_id):
    from .homecare import request_body
    return request_body(care.service["id"], patient_id)


def test_demo_load_publishes_a_catalogue(app, client):
    from patient_api import demo
    with app.app_context():
        demo.load(days=0)
        demo.load(days=0)  # idempotent
    names = [s["name"] for s in client.get("/api/v1/homecare/services").json["items"]]
    assert {"上门换药", "PICC维护", "导尿管更换", "压疮护理", "留置胃管", "新生儿护理"} <= set(names)
    assert len(names) == len(set(names))
    assert client.get(f"/api/v1/homecare/services?area_code={AREA}").json["items"]
