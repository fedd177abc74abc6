"""Real-name verification: a typed ID number is only a claim; clinical data opens to verified links only."""
from datetime import timedelta

import sqlalchemy as sa

from patient_api.accounts.models import Patient, PatientLink
from patient_api.common.clock import today_local
from patient_api.common.outbox import OutboxMessage
from patient_api.extensions import db

from . import fhir_samples as fs
from .factories import chinese_name, hospital_key, resident_id
from .inpatient import PASSWORD, in_db, line
from .kiosk import Kiosk

FHIR = "/api/v1/integration/fhir"
REAL_PHONE = "13912345678"


def person_with_results(app, client, n, phone=REAL_PHONE, name=None):
    """A hospital pushes a report (its Patient carries a mobile) for a resident who has not registered."""
    his = hospital_key(app)
    patient = fs.patient(resident_id(n), name=name or chinese_name(n))
    patient["resource"]["telecom"] = [{"system": "phone", "value": phone, "use": "mobile"}]
    pushed = client.post(FHIR, json=fs.bundle(patient, fs.cbc(f"LIS-{n}")), headers=his)
    assert pushed.status_code == 200, pushed.json
    return his


def add(client, headers, n, name, relation="self"):
    response = client.post("/api/v1/me/patients", headers=headers, json={
        "name": name, "id_number": resident_id(n), "phone": "13700000000", "relation": relation})
    assert response.status_code == 201, response.json
    return response.json


def clinical_calls(patient_id, report_id, admission_id, bill_id):
    """Every resident endpoint that shows or changes clinical data or HIS money: (method, path, body)."""
    p, a = f"/api/v1/patients/{patient_id}", f"/api/v1/admissions/{admission_id}"
    return [("GET", "/api/v1/reports", None), ("GET", f"/api/v1/reports?patient_id={patient_id}", None),
            ("GET", f"/api/v1/reports/{report_id}", None), ("GET", f"/api/v1/reports/{report_id}/history", None),
            ("GET", f"{p}/trends?code=6690-2", None), ("GET", f"{p}/record", None), ("GET", f"{p}/encounters", None),
            ("GET", f"{p}/conditions", None), ("GET", f"{p}/allergies", None), ("GET", f"{p}/immunizations", None),
            ("GET", f"{p}/vitals", None), ("POST", f"{p}/vitals", {"kind": "heart_rate", "value": 72}),
            ("GET", f"{p}/access-log", None), ("GET", "/api/v1/admissions", None),
            ("GET", f"/api/v1/admissions?patient_id={patient_id}", None), ("GET", a, None),
            ("GET", f"{a}/daily-charges", None),
            ("POST", f"{a}/deposits", {"amount_fen": 10000, "method": "wechat_jsapi"}),
            ("GET", f"{a}/settlement", None), ("GET", f"/api/v1/bills/{bill_id}", None),
            ("POST", f"/api/v1/bills/{bill_id}/pre-settlement", None),
            ("POST", f"/api/v1/bills/{bill_id}/payments", {"method": "wechat_jsapi"}),
            ("GET", f"/api/v1/bills/{bill_id}/invoice", None)]


def test_a_stranger_who_knows_the_id_number_reads_nothing_and_never_blocks_the_real_person(app, client, make):
    n, real_name = 7001, chinese_name(7001)
    his = person_with_results(app, client, n)
    stranger = make.login("stranger")
    squat = add(client, stranger, n, "冒充者")  # any name: the same 201 as with the right one
    assert (squat["link_status"], squat["name"], squat["id_number"]) == ("claimed", "冒*者", resident_id(n)[:3]
                                                                        + "*" * 11 + resident_id(n)[-4:])
    assert "birth_date" not in squat and squat["age"] > 0

    # The hospital's own pushes for the person still work: the stay and an outpatient bill.
    admitted = client.post("/api/v1/integration/admissions", headers=his, json={
        "admission_no": "ZY-7001", "patient": {"id_number": resident_id(n), "name": real_name}, "ward_code": "W1",
        "bed_no": "3", "admitted_at": f"{today_local() - timedelta(days=2)}T09:00:00+08:00",
        "insurance_type": "employee"})
    assert admitted.status_code == 201, admitted.json
    client.post("/api/v1/integration/admissions/ZY-7001/charges", headers=his,
                json={"items": [line("C1", today_local() - timedelta(days=1))]})
    billed = client.post("/api/v1/integration/bills", headers=his, json={
        "order_no": "MZ-7001", "patient": {"id_number": resident_id(n)}, "department": "内科", "doctor": "李医生",
        "insurance_type": "self_pay", "items": [{"code": "X1", "name": "血常规", "category": "检验", "quantity": 1,
                                                 "unit_price_fen": 2500, "insurance_class": "甲"}]})
    assert billed.status_code == 201, billed.json
    assert in_db(app, lambda: db.session.get(Patient, squat["id"]).name) == real_name  # the hospital's name won

    # Every clinical endpoint refuses the claimed link, and nothing of the person shows in the lists.
    report_id = in_db(app, lambda: db.session.execute(sa.text("SELECT id FROM reports")).scalar())
    calls = clinical_calls(squat["id"], report_id, admitted.json["id"], billed.json["id"])
    answers = [(path, client.open(path, method=method, json=body, headers=stranger)) for method, path, body in calls]
    leaks = [(path, r.status_code, r.json) for path, r in answers
             if (r.status_code, r.json.get("code")) != (403, "verification_required")]
    assert leaks == [] and len(answers) == 23
    assert "实名验证" in answers[0][1].json["message"]
    assert client.get("/api/v1/bills", headers=stranger).json["items"] == []

    # The stranger can ask for a code, but it goes to the phone on file (masked), never to the typed one.
    started = client.post(f"/api/v1/me/patients/{squat['id']}/verification", json={"method": "sms"}, headers=stranger)
    assert started.status_code == 202 and started.json["phone"] == "139****5678"
    wrong = client.post(f"/api/v1/me/patients/{squat['id']}/verification/confirm", json={"code": "000000"},
                        headers=stranger)
    assert wrong.status_code == 422 and wrong.json["code"] == "code_invalid"

    # The real person adds themselves with the true name, verifies by SMS and reads their report.
    me = make.login("the-real-person")
    mine = add(client, me, n, real_name)
    assert mine["id"] == squat["id"] and mine["link_status"] == "claimed"
    client.post(f"/api/v1/me/patients/{mine['id']}/verification", json={"method": "sms"}, headers=me)
    verified = client.post(f"/api/v1/me/patients/{mine['id']}/verification/confirm",
                           json={"code": make.sms_code(REAL_PHONE)}, headers=me)
    assert verified.status_code == 200 and verified.json["link_status"] == "verified"
    assert verified.json["birth_date"] == f"{resident_id(n)[6:10]}-{resident_id(n)[10:12]}-{resident_id(n)[12:14]}"
    assert client.get(f"/api/v1/reports/{report_id}", headers=me).status_code == 200
    assert client.get(f"/api/v1/bills/{billed.json['id']}", headers=me).status_code == 200

    # The stranger's claim never gains access, and the person sees and ends it.
    again = [client.open(path, method=method, json=body, headers=stranger) for method, path, body in calls]
    assert {(r.status_code, r.json["code"]) for r in again} == {(403, "verification_required")}
    seen = client.get(f"/api/v1/me/patients/{mine['id']}/links", headers=me).json["items"]
    assert sorted((s["status"], s["is_me"]) for s in seen) == [("claimed", False), ("verified", True)]
    squatter_link = next(s for s in seen if not s["is_me"])
    assert "stranger" not in squatter_link["account"]
    revoked = client.post(f"/api/v1/me/patients/{mine['id']}/links/{squatter_link['id']}/revoke", headers=me)
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    assert client.get("/api/v1/me/patients", headers=stranger).json["items"] == []
    assert client.get(f"/api/v1/reports/{report_id}", headers=stranger).status_code == 404

    # A kiosk ID-card read for the person works (the chip's name is the legal name).
    opened = Kiosk(app, client).card(method="id_card", id_number=resident_id(n), name=real_name)
    assert opened.status_code == 201 and opened.json["patient"]["id"] == mine["id"]


def test_claimed_link_books_and_pays_its_own_registration_but_no_receipt(app, client, make):
    headers, patient_id = make.resident()
    schedule_id = make.schedule(fee_fen=1200)
    booked = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                         headers=headers)
    assert booked.status_code == 201, booked.json
    bill_id = booked.json["bill_id"]
    assert [b["id"] for b in client.get("/api/v1/bills", headers=headers).json["items"]] == [bill_id]
    assert client.get(f"/api/v1/bills/{bill_id}", headers=headers).status_code == 200
    assert client.post(f"/api/v1/bills/{bill_id}/payments", json={"method": "wechat_jsapi"},
                       headers=headers).status_code == 201
    assert client.get(f"/api/v1/bills/{bill_id}/invoice", headers=headers).json["code"] == "verification_required"
    joined = client.post("/api/v1/waitlist", json={"schedule_id": schedule_id, "patient_id": patient_id},
                         headers=headers)
    assert joined.status_code != 403


def test_a_proxy_waits_for_consent_reads_once_approved_and_stops_at_once_when_revoked(app, client, make):
    n = 7002
    person_with_results(app, client, n, phone="13912340002")
    mother = make.login("mother")
    own = add(client, mother, n, chinese_name(n))
    make.verify(mother, own["id"], phone="13912340002")
    daughter = make.login("daughter")
    asked = add(client, daughter, n, chinese_name(n), relation="parent")
    assert asked["link_status"] == "pending" and asked["name"] == chinese_name(n)[0] + "*" * 3 + chinese_name(n)[-1]
    told = in_db(app, lambda: db.session.scalars(sa.select(OutboxMessage.event).filter_by(
        channel="wechat_message", event="proxy.requested")).all())
    assert told == ["proxy.requested"]
    reports = f"/api/v1/reports?patient_id={own['id']}"
    assert client.get(reports, headers=daughter).json["code"] == "verification_required"

    link_id = next(s["id"] for s in client.get(f"/api/v1/me/patients/{own['id']}/links", headers=mother).json["items"]
                   if not s["is_me"])
    assert client.get(f"/api/v1/me/patients/{own['id']}/links", headers=daughter).json["code"] == \
        "verification_required"
    approved = client.post(f"/api/v1/me/patients/{own['id']}/links/{link_id}/approve", headers=mother)
    assert approved.status_code == 200 and approved.json["status"] == "verified"
    assert approved.json["label"] == "家属账户（子女）"
    assert client.get(reports, headers=daughter).status_code == 200
    log = client.get(f"/api/v1/patients/{own['id']}/access-log", headers=mother).json["items"]
    assert "家属账户（子女）" in {row["actor"] for row in log}
    listed = client.get("/api/v1/me/patients", headers=daughter).json["items"][0]
    assert listed["link_status"] == "verified" and "birth_date" not in listed  # only the person sees it

    revoked = client.post(f"/api/v1/me/patients/{own['id']}/links/{link_id}/revoke", headers=mother)
    assert revoked.status_code == 200
    assert client.get(reports, headers=daughter).status_code == 404
    assert client.post(f"/api/v1/me/patients/{own['id']}/links/{link_id}/approve",
                       headers=mother).json["code"] == "link_state_conflict"

    son = make.login("son")
    add(client, son, n, chinese_name(n), relation="parent")
    son_link = next(s["id"] for s in client.get(f"/api/v1/me/patients/{own['id']}/links", headers=mother).json["items"]
                    if s["status"] == "pending")
    assert client.post(f"/api/v1/me/patients/{own['id']}/links/{son_link}/decline", headers=mother).status_code == 200
    assert client.get(reports, headers=son).status_code == 404
    assert client.get("/api/v1/me/patients", headers=son).json["items"] == []


def test_a_child_verifies_for_a_parent_with_the_phone_on_file(app, client, make):
    n = 7003
    person_with_results(app, client, n, phone="13912340003")
    daughter = make.login()
    mum = add(client, daughter, n, chinese_name(n), relation="parent")
    assert mum["link_status"] == "claimed"  # the mother never registered herself: nobody to wait for
    done = make.verify(daughter, mum["id"], phone="13912340003")
    assert done["link_status"] == "verified" and "birth_date" not in done
    assert client.get(f"/api/v1/reports?patient_id={mum['id']}", headers=daughter).status_code == 200


def test_a_guardian_verifies_a_child_with_a_counter_code_and_a_kiosk_code(app, client, make):
    child = resident_id(7004, born="20200315")
    his = hospital_key(app)
    client.post(FHIR, json=fs.bundle(fs.patient(child, name="王小宝"), fs.cbc("LIS-7004")), headers=his)
    parent = make.login()
    kid = client.post("/api/v1/me/patients", headers=parent, json={
        "name": "王小宝", "id_number": child, "phone": None, "relation": "child"}).json
    no_phone = client.post(f"/api/v1/me/patients/{kid['id']}/verification", json={"method": "sms"}, headers=parent)
    assert no_phone.status_code == 409 and no_phone.json["code"] == "no_phone_on_file"
    assert "自助机" in no_phone.json["message"] and "窗口" in no_phone.json["message"]

    client.post("/api/v1/integration/admissions", headers=his, json={})  # the hospital exists for staff
    result = app.test_cli_runner().invoke(args=["staff", "create", "--hospital", "H1", "--username", "counter1",
                                                "--password", PASSWORD, "--role", "cashier", "--wards", ""])
    assert result.exit_code == 0, result.output
    staff = {"Authorization": "Bearer " + client.post("/api/v1/staff/auth/login", json={
        "username": "counter1", "password": PASSWORD}).json["token"]}
    issued = client.post("/api/v1/staff/binding-codes", json={"id_number": child, "name": "王小宝"}, headers=staff)
    assert issued.status_code == 201 and len(issued.json["binding_code"]) == 8 and issued.json["expires_in"] == 300
    assert client.post("/api/v1/staff/binding-codes", json={"id_number": child, "name": "王小宝"}).status_code == 401
    confirmed = client.post(f"/api/v1/me/patients/{kid['id']}/verification/confirm",
                            json={"binding_code": issued.json["binding_code"]}, headers=parent)
    assert confirmed.status_code == 200 and confirmed.json["link_status"] == "verified"
    assert client.get(f"/api/v1/reports?patient_id={kid['id']}", headers=parent).status_code == 200
    reused = client.post(f"/api/v1/me/patients/{kid['id']}/verification/confirm",
                         json={"binding_code": issued.json["binding_code"]}, headers=make.login())
    assert reused.status_code == 404  # that account has no link to the child at all

    # The other parent verifies at a kiosk: the child's ID card is read there.
    other = make.login()
    second = client.post(
        "/api/v1/me/patients", headers=other, json={"name": "王小宝", "id_number": child, "relation": "child"}).json
    kiosk = Kiosk(app, client)
    assert kiosk.card(method="id_card", id_number=child, name="王小宝").status_code == 201
    code = kiosk.call("POST", "/api/v1/kiosk/binding-codes")
    assert code.status_code == 201, code.json
    by_kiosk = client.post(f"/api/v1/me/patients/{second['id']}/verification/confirm",
                           json={"binding_code": code.json["binding_code"]}, headers=other)
    assert by_kiosk.json["link_status"] == "verified"
    by_insurance = Kiosk(app, client, name="2号机")
    by_insurance.insurance_card_on_file(child, "SD0000001")
    by_insurance.card(method="insurance_card", card_number="SD0000001", ssn=child)
    assert by_insurance.call("POST", "/api/v1/kiosk/binding-codes").json["code"] == "id_card_required"


def test_a_wrong_name_fails_verification_without_saying_which_part(app, client, make):
    n = 7005
    person_with_results(app, client, n, phone="13912340005")
    headers = make.login()
    claimed = add(client, headers, n, "张错名")
    client.post(f"/api/v1/me/patients/{claimed['id']}/verification", json={"method": "sms"}, headers=headers)
    failed = client.post(f"/api/v1/me/patients/{claimed['id']}/verification/confirm",
                         json={"code": make.sms_code("13912340005")}, headers=headers)
    assert failed.status_code == 422 and failed.json["code"] == "verification_failed"
    assert chinese_name(n) not in failed.get_data(as_text=True)
    assert in_db(app, lambda: db.session.scalars(sa.select(PatientLink.status)).one()) == "claimed"


def test_adding_answers_the_same_for_a_right_and_a_wrong_name(app, client, make):
    n = 7006
    person_with_results(app, client, n)
    right = add(client, make.login(), n, chinese_name(n))
    wrong = add(client, make.login(), n, "李四")
    assert {k for k in right} == {k for k in wrong}
    assert (right["link_status"], wrong["link_status"]) == ("claimed", "claimed")
    assert right["id"] == wrong["id"] and right["id_number"] == wrong["id_number"]


def test_when_the_person_leaves_waiting_proxies_can_verify_themselves(app, client, make):
    n = 7007
    person_with_results(app, client, n, phone="13912340007")
    me = make.login()
    own = add(client, me, n, chinese_name(n))
    make.verify(me, own["id"], phone="13912340007")
    son = make.login()
    assert add(client, son, n, chinese_name(n), relation="parent")["link_status"] == "pending"
    assert client.delete(f"/api/v1/me/patients/{own['id']}", headers=me).status_code == 204
    assert client.get("/api/v1/me/patients", headers=son).json["items"][0]["link_status"] == "claimed"
    assert make.verify(son, own["id"], phone="13912340007")["link_status"] == "verified"
