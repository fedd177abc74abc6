"""双向转诊 end to end: up (lookup → destinations → tickets → send with the kept ticket booked → receive → complete),
down (send → accept → the signed team's follow-up plan), the family's messages, shared reports in the access log,
Idempotency-Key replays."""
import sqlalchemy as sa

from patient_api.booking.models import Appointment
from patient_api.directory.models import Hospital, Ticket
from patient_api.extensions import db
from patient_api.family.models import FollowUpPlan

from .family import Clinic
from .referrals import API, CITY, CITY2, CLINIC, CLINIC2, World, counts, staff, told


def test_up_referral_from_lookup_to_completion(app, client, make):
    w = World(app, client, make)
    found = client.post(f"{API}/staff/referrals/patient", json={"id_number": w.id_number}, headers=w.clinic)
    assert found.status_code == 200, found.json
    assert found.json["patient"]["id"] == w.patient_id and "*" in found.json["patient"]["name"]
    assert found.json["patient"]["id_number"].startswith("370") and "*" in found.json["patient"]["id_number"]
    assert {r["id"] for r in found.json["reports"]} == set(w.reports)  # only the clinic's own reports

    places = client.get(f"{API}/staff/referrals/destinations?direction=up", headers=w.clinic).json["items"]
    assert {p["hospital_id"] for p in places} == {w.hospital_id(CITY), w.hospital_id(CITY2)}
    city = next(p for p in places if p["hospital_id"] == w.hospital_id(CITY))
    assert city["level"] == "三级甲等" and w.department_id in [d["id"] for d in city["departments"]]

    tickets = client.get(f"{API}/staff/referrals/tickets?hospital_id={w.hospital_id(CITY)}"
                         f"&department_id={w.department_id}", headers=w.clinic).json["items"]
    assert [(t["schedule_id"], t["referral_available"], t["public_available"]) for t in tickets] == [
        (w.schedule_id, 2, 8)]

    sent = w.send(w.up())
    assert sent["status"] == "booked" and sent["direction"] == "up" and sent["urgency"] == "urgent"
    assert sent["from"] == {"hospital_id": w.hospital_id(CLINIC), "hospital_name": "岱岳区范镇卫生院",
                            "staff_name": "李春梅"}
    assert sent["to"]["hospital_name"] == "泰安市中心医院" and sent["to"]["department_id"] == w.department_id
    assert [r["id"] for r in sent["shared_reports"]] == w.reports and sent["plan"] is None
    assert sent["consent"]["by"] == "patient" and sent["consent"]["recorded_at"]
    appointment = sent["appointment"]
    assert appointment["pool"] == "referral" and appointment["status"] == "pending_payment"
    assert appointment["hospital_name"] == "泰安市中心医院" and appointment["queue_no"] in (3, 8)
    assert [h["status"] for h in sent["history"]] == ["sent", "booked"]
    assert sent["history"][0]["by"] == "岱岳区范镇卫生院 李春梅"
    after = client.get(f"{API}/staff/referrals/tickets?hospital_id={w.hospital_id(CITY)}",
                       headers=w.clinic).json["items"]
    assert (after[0]["referral_available"], after[0]["public_available"]) == (1, 8)
    with app.app_context():  # the hold lasts until check-in closes: the patient pays on arrival
        row = db.session.get(Appointment, appointment["id"])
        assert row.hold_expires_at > row.visit_start and row.booked_via == f"referral:{sent['id']}"

    booked = told(app, "referral.booked")
    assert [(payload["referral_id"], payload["appointment_id"]) for _, payload in booked] == [
        (sent["id"], appointment["id"])]
    inbox = client.get(f"{API}/me/messages", headers=w.headers).json["items"]
    line = next(m for m in inbox if m["event"] == "referral.booked")
    assert line["title"] == "转诊预约成功" and line["path"] == f"/referrals/{sent['id']}"
    assert any(f"{appointment['queue_no']}号" in text for text in line["lines"])

    incoming = client.get(f"{API}/staff/referrals?box=incoming", headers=w.city).json
    assert [r["id"] for r in incoming["items"]] == [sent["id"]] and incoming["next_cursor"] is None
    assert client.get(f"{API}/staff/referrals?box=outgoing", headers=w.city).json["items"] == []
    assert [r["id"] for r in client.get(f"{API}/staff/referrals?box=outgoing&status=booked",
                                        headers=w.clinic).json["items"]] == [sent["id"]]

    received = w.step(w.city, sent["id"], "receive")
    assert received["status"] == "received" and received["history"][-1]["by"] == "泰安市中心医院 张志强"
    done = w.step(w.city, sent["id"], "complete")
    assert done["status"] == "completed" and [h["status"] for h in done["history"]] == [
        "sent", "booked", "received", "completed"]

    mine = client.get(f"{API}/me/referrals?patient_id={w.patient_id}", headers=w.headers).json["items"]
    assert [r["id"] for r in mine] == [sent["id"]]
    one = client.get(f"{API}/me/referrals/{sent['id']}", headers=w.headers).json
    assert "summary" not in one and "staff_name" not in one["from"]
    assert one["history"][0]["by"] == "岱岳区范镇卫生院" and one["shared_reports"][0]["title"] == "血常规"


def test_up_referral_booked_later_then_declined_gives_the_ticket_back_to_the_pool(app, client, make):
    w = World(app, client, make)
    sent = w.send(w.up(schedule_id=None))
    assert sent["status"] == "sent" and sent["appointment"] is None and told(app, "referral.booked") == []
    booked = w.step(w.clinic, sent["id"], "booking", {"schedule_id": w.schedule_id})
    assert booked["status"] == "booked" and booked["appointment"]["pool"] == "referral"
    declined = w.step(w.city, sent["id"], "decline", {"reason": "本院心内科床位已满，建议转泰安市第二人民医院"})
    assert declined["status"] == "declined" and declined["decline_reason"].startswith("本院心内科")
    assert declined["appointment"]["status"] == "cancelled"
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket).where(Ticket.schedule_id == w.schedule_id,
                                                           Ticket.seq == booked["appointment"]["queue_no"])).one()
        assert (ticket.status, ticket.reserved_for, ticket.appointment_id) == ("free", "referral", None)
    [(_, payload)] = told(app, "referral.declined")
    assert payload["reason"].startswith("本院心内科")


def test_cancelled_by_the_sender_frees_the_ticket_and_tells_the_family(app, client, make):
    w = World(app, client, make)
    sent = w.send(w.up())
    cancelled = w.step(w.clinic, sent["id"], "cancel", {"reason": "患者要求暂缓转诊"})
    assert cancelled["status"] == "cancelled" and cancelled["appointment"]["status"] == "cancelled"
    tickets = client.get(f"{API}/staff/referrals/tickets?hospital_id={w.hospital_id(CITY)}",
                         headers=w.clinic).json["items"]
    assert tickets[0]["referral_available"] == 2
    assert [payload["reason"] for _, payload in told(app, "referral.cancelled")] == ["患者要求暂缓转诊"]


def test_down_referral_accepted_sets_the_signed_teams_follow_up(app, client, make):
    clinic = Clinic(app, client, make, code="FZWSY")
    with app.app_context():
        db.session.scalars(sa.select(Hospital).filter_by(code="FZWSY")).one().level = "一级"
        db.session.commit()
    w = World(app, client, make)
    headers, patient_id, person = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    w.id_number, w.patient_id, w.headers = person["id_number"], patient_id, headers
    w.city_report = w.report(CITY, "出院小结")
    fz = staff(app, client, "FZWSY", name="王立新")

    places = client.get(f"{API}/staff/referrals/destinations?direction=down", headers=w.city).json["items"]
    assert {p["name"] for p in places} >= {"岱岳区范镇卫生院", "泰山区上高社区卫生服务中心"}
    assert all(p["level_rank"] == 1 for p in places)
    sent = w.send(w.down(to="FZWSY", followup={"kind": "blood_glucose", "every_days": 30}), headers=w.city)
    assert sent["status"] == "sent" and sent["followup"] == {"kind": "glucose", "every_days": 30}
    assert [payload["plan"] for _, payload in told(app, "referral.down_sent")] == [sent["plan"]]
    accepted = w.step(fz, sent["id"], "accept")
    assert accepted["status"] == "accepted"
    with app.app_context():
        plans = db.session.scalars(sa.select(FollowUpPlan).filter_by(contract_id=contract["id"])).all()
        assert [(p.kind, p.interval_days, p.active, p.created_by) for p in plans] == [
            ("glucose", 30, True, sent["id"])]
    follow = client.get(f"{API}/me/family/contracts/{contract['id']}", headers=headers).json["follow_ups"]
    assert [(f["kind"], f["interval_days"]) for f in follow] == [("glucose", 30)]
    assert len(told(app, "referral.down_accepted")) == 1
    done = w.step(fz, sent["id"], "complete")
    assert done["status"] == "completed"


def test_down_referral_of_someone_not_signed_creates_no_plan(app, client, make):
    w = World(app, client, make)
    sent = w.send(w.down(to=CLINIC2), headers=w.city)
    other = staff(app, client, CLINIC2)
    assert w.step(other, sent["id"], "accept")["status"] == "accepted"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpPlan)) == 0


def test_shared_report_read_writes_one_access_log_row_the_resident_sees(app, client, make):
    w = World(app, client, make)
    sent = w.send(w.up())
    read = client.get(f"{API}/staff/referrals/{sent['id']}/reports/{w.reports[0]}", headers=w.city)
    assert read.status_code == 200, read.json
    assert read.json["id"] == w.reports[0] and read.json["title"] == "血常规" and "items" in read.json
    log = client.get(f"{API}/patients/{w.patient_id}/access-log", headers=w.headers).json["items"]
    rows = [e for e in log if e["channel"] == "referral"]
    assert len(rows) == 1
    assert rows[0]["resource_id"] == w.reports[0] and rows[0]["purpose"] == "转诊"
    assert rows[0]["description"] == "泰安市中心医院 因转诊查看了您的报告"
    assert rows[0]["actor"] == "泰安市中心医院 转诊医生"


def test_a_replayed_post_with_the_same_key_creates_one_referral(app, client, make):
    w = World(app, client, make)
    key = {"Idempotency-Key": "ref-replay-1"}
    first = client.post(f"{API}/staff/referrals", json=w.up(), headers={**w.clinic, **key})
    again = client.post(f"{API}/staff/referrals", json=w.up(), headers={**w.clinic, **key})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json["id"] == first.json["id"]
    assert counts(app)[0] == 1
    other = client.post(f"{API}/staff/referrals", json=w.up(reason="另一次"), headers={**w.clinic, **key})
    assert other.status_code == 422 and other.json["code"] == "idempotency_key_reused"
