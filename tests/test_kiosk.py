"""Kiosks: signed requests (bad signature, stale timestamp, replayed nonce → 401) and one-patient sessions."""
import json
import time

import sqlalchemy as sa

from patient_api.accounts.models import Patient
from patient_api.booking.models import Appointment
from patient_api.common.auth import _key
from patient_api.extensions import db

from .factories import chinese_name, resident_id
from .inpatient import in_db
from .kiosk import Kiosk

SESSIONS = "/api/v1/kiosk/sessions"


def resident_with_number(make, n):
    headers = make.login()
    return headers, make.patient(headers, n)


def test_card_read_opens_a_session_for_that_patient(app, client, make, redis_client):
    kiosk = Kiosk(app, client)
    _, patient_id = resident_with_number(make, 801)
    opened = kiosk.card(method="id_card", id_number=resident_id(801), name=chinese_name(801))
    assert opened.status_code == 201 and opened.json["patient"]["id"] == patient_id
    assert "*" in opened.json["patient"]["name"] and opened.json["expires_in"] == 300
    assert 290 <= redis_client.ttl(_key(kiosk.token)) <= 300
    second = Kiosk(app, client, name="2号机")
    second.insurance_card_on_file(resident_id(801), "SD0001234")
    by_insurance = second.card(method="insurance_card", card_number="SD0001234", ssn=resident_id(801))
    assert by_insurance.json["patient"]["id"] == patient_id


def test_an_insurance_card_read_needs_the_card_the_city_holds_for_that_person(app, client, make):
    """Knowing an ID number is not enough: a made-up or someone else's card number is refused and audited."""
    from patient_api.common.audit import AuditEntry
    kiosk = Kiosk(app, client)
    assert kiosk.card(method="id_card", id_number=resident_id(811), name=chinese_name(811)).status_code == 201
    kiosk.insurance_card_on_file(resident_id(811), "SD0008110")
    kiosk.insurance_card_on_file(resident_id(812), "SD0008120")
    for card_number in ("SD9999999", "SD0008120"):  # unknown; another person's
        refused = kiosk.card(method="insurance_card", card_number=card_number, ssn=resident_id(811))
        assert (refused.status_code, refused.json["code"]) == (403, "card_not_recognised")
    opened = kiosk.card(method="insurance_card", card_number="sd 000 8110", ssn=resident_id(811))
    assert opened.status_code == 201
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEntry.action, AuditEntry.detail).where(
            AuditEntry.action.in_(("kiosk.card_refused", "kiosk.session_open")))
            .order_by(AuditEntry.id)).all()
    cards = [(action, json.loads(detail or "{}").get("card")) for action, detail in rows]
    assert cards == [("kiosk.session_open", None), ("kiosk.card_refused", "SD***9999"),
                     ("kiosk.card_refused", "SD***8120"), ("kiosk.session_open", "SD***8110")]


def test_walk_in_without_a_phone_is_enrolled_by_the_id_card(app, client, make):
    kiosk = Kiosk(app, client)
    opened = kiosk.card(method="id_card", id_number=resident_id(802), name=chinese_name(802))
    assert opened.status_code == 201
    assert in_db(app, lambda: db.session.get(Patient, opened.json["patient"]["id"]).name_source) == "card"
    unknown = kiosk.card(method="insurance_card", card_number="SD0009999", ssn=resident_id(803))
    assert (unknown.status_code, unknown.json["code"]) == (404, "patient_not_found")
    renamed = kiosk.card(method="id_card", id_number=resident_id(802), name="王五")  # the chip is authoritative
    assert renamed.status_code == 201 and renamed.json["patient"]["id"] == opened.json["patient"]["id"]
    assert in_db(app, lambda: db.session.get(Patient, opened.json["patient"]["id"]).name) == "王五"
    bad = kiosk.card(method="id_card", id_number="370902198601010000", name="王五")
    assert bad.status_code == 422 and "id_number" in bad.json["errors"]
    assert kiosk.card(method="insurance_card", ssn=resident_id(802)).json["errors"] == {
        "card_number": ["该读卡方式必填"]}


def test_bad_signature_stale_timestamp_and_replayed_nonce_are_401(app, client):
    kiosk = Kiosk(app, client)
    read = {"method": "id_card", "id_number": resident_id(804), "name": chinese_name(804)}

    def code(response):
        return response.status_code, response.json["code"]
    assert code(kiosk.call("POST", SESSIONS, read, secret="not-the-secret")) == (401, "invalid_signature")
    assert code(kiosk.call("POST", SESSIONS, read, stamp=int(time.time()) - 301)) == (401, "stale_timestamp")
    assert code(kiosk.call("POST", SESSIONS, read, stamp=int(time.time()) + 301)) == (401, "stale_timestamp")
    nonce = "n" * 24
    assert kiosk.call("POST", SESSIONS, read, nonce=nonce).status_code == 201
    assert code(kiosk.call("POST", SESSIONS, read, nonce=nonce)) == (401, "nonce_replayed")
    signed_for_other_body = kiosk.headers("POST", SESSIONS, b'{"method": "id_card"}')
    tampered = client.post(SESSIONS, json=read, headers=signed_for_other_body)
    assert code(tampered) == (401, "invalid_signature")
    other_path = kiosk.headers("GET", "/api/v1/kiosk/bills")
    assert code(client.get("/api/v1/kiosk/appointments", headers=other_path)) == (401, "invalid_signature")
    assert code(client.post(SESSIONS, json=read)) == (401, "invalid_signature")
    assert app.test_cli_runner().invoke(args=["kiosk", "disable", kiosk.device_id]).exit_code == 0
    assert code(kiosk.call("POST", SESSIONS, read)) == (401, "invalid_signature")


def test_a_session_never_reaches_a_second_patient(app, client, make):
    kiosk = Kiosk(app, client)
    schedule_id = make.schedule(fee_fen=1200, capacity=5)
    other_headers, other_patient = make.resident()
    theirs = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": other_patient},
                         headers=other_headers).json
    kiosk.card(method="id_card", id_number=resident_id(805), name=chinese_name(805))
    mine = kiosk.call("POST", "/api/v1/kiosk/appointments", {"schedule_id": schedule_id})
    assert mine.status_code == 201 and mine.json["status"] == "pending_payment"
    assert in_db(app, lambda: db.session.get(Appointment, mine.json["id"]).booked_via) == f"kiosk:{kiosk.device_id}"
    listed = kiosk.call("GET", "/api/v1/kiosk/appointments").json["items"]
    assert [a["id"] for a in listed] == [mine.json["id"]]
    assert [b["id"] for b in kiosk.call("GET", "/api/v1/kiosk/bills").json["items"]] == [mine.json["bill_id"]]
    qr = kiosk.call("POST", f"/api/v1/kiosk/bills/{mine.json['bill_id']}/payments")
    assert qr.status_code == 201 and qr.json["code_url"].startswith("weixin://")
    early = kiosk.call("POST", f"/api/v1/kiosk/appointments/{mine.json['id']}/check-in")
    assert (early.status_code, early.json["code"]) == (409, "payment_required")
    for path in (f"/api/v1/kiosk/appointments/{theirs['id']}/check-in",
                 f"/api/v1/kiosk/bills/{theirs['bill_id']}/payments"):
        refused = kiosk.call("POST", path)
        assert refused.status_code == 404, path
    # Another patient through the same kiosk needs a new card read; a token is bound to its kiosk.
    other_kiosk = Kiosk(app, client, name="2号机")
    lifted = other_kiosk.call("GET", "/api/v1/kiosk/appointments", token=kiosk.token)
    assert (lifted.status_code, lifted.json["code"]) == (401, "session_expired")
    resident_token = other_headers["Authorization"].split()[1]
    assert kiosk.call("GET", "/api/v1/kiosk/appointments", token=resident_token).status_code == 401
    assert kiosk.call("DELETE", f"{SESSIONS}/current").status_code == 204  # card removed
    assert kiosk.call("GET", "/api/v1/kiosk/appointments").status_code == 401
    kiosk.token = None
    assert kiosk.call("GET", "/api/v1/kiosk/appointments").json["code"] == "kiosk_session_required"
    assert in_db(app, lambda: db.session.scalar(sa.select(sa.func.count()).select_from(Appointment))) == 2


def test_reports_listed_and_printed_for_the_session_patient_only(app, client, make):
    from .test_results_api import World, item
    world, kiosk = World(app, client, make), Kiosk(app, client)
    me, stranger = world.person(n=7901), world.person(n=7902)
    mine = world.report(me.index, "LAB-1", items=[item("LAB-1-1", code="6690-2", name="白细胞计数", value_num=11.2,
                                                       low=3.5, high=9.5, unit="10*9/L")])
    theirs = world.report(stranger.index, "LAB-2")
    kiosk.card(method="id_card", id_number=resident_id(7901), name=chinese_name(7901))
    listed = kiosk.call("GET", "/api/v1/kiosk/reports").json["items"]
    assert [r["id"] for r in listed] == [mine] and listed[0]["abnormal_count"] == 1
    thermal = kiosk.call("GET", f"/api/v1/kiosk/reports/{mine}/print")
    assert thermal.status_code == 200 and thermal.mimetype == "text/html"
    page = thermal.get_data(as_text=True)
    assert "size: 80mm auto" in page and "白细胞计数" in page and "11.2" in page and "↑" in page
    assert chinese_name(7901) not in page and "参考范围" not in page  # the name is masked; 80 mm has no range column
    a4 = kiosk.call("GET", f"/api/v1/kiosk/reports/{mine}/print?format=a4").get_data(as_text=True)
    assert "size: A4" in a4 and "参考范围" in a4 and "3.5" in a4
    assert kiosk.call("GET", f"/api/v1/kiosk/reports/{theirs}/print").json["code"] == "report_not_found"
    assert kiosk.call("GET", f"/api/v1/kiosk/reports/{mine}/print?format=pdf").status_code == 422
    logged = [(row[0], row[1], row[2], row[4]) for row in world.log()]
    assert logged == [("kiosk", kiosk.device_id, "kiosk", "report_list"), ("kiosk", kiosk.device_id, "kiosk",
                                                                          "report_print"),
                      ("kiosk", kiosk.device_id, "kiosk", "report_print")]

