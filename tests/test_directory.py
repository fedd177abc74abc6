"""Directory endpoints and the `available` count."""
from patient_api import demo
from patient_api.extensions import db


def test_demo_load_is_idempotent_and_realistic(app, client):
    with app.app_context():
        demo.load()
        counts = [db.session.execute(db.text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("hospitals", "departments", "doctors", "schedules", "tickets")]
        demo.load()
        again = [db.session.execute(db.text(f"SELECT count(*) FROM {t}")).scalar()
                 for t in ("hospitals", "departments", "doctors", "schedules", "tickets")]
    assert counts == again and counts[0] == 3 and counts[3] > 300
    hospitals = client.get("/api/v1/hospitals").json["items"]
    assert {h["level"] for h in hospitals} == {"三级甲等", "一级"}
    township = next(h for h in hospitals if h["level"] == "一级")
    departments = client.get(f"/api/v1/hospitals/{township['id']}/departments").json["items"]
    assert "便民门诊" in {d["name"] for d in departments}
    free = next(d for d in departments if d["name"] == "便民门诊")
    schedules = client.get("/api/v1/schedules", query_string={"department_id": free["id"]}).json["items"]
    assert schedules and all(s["fee_fen"] == 0 for s in schedules)
    big = next(h for h in hospitals if h["code"] == "TAZXYY")
    all_schedules = client.get("/api/v1/schedules", query_string={"hospital_id": big["id"], "limit": 500}).json["items"]
    assert {"morning", "afternoon", "evening"} <= {s["period"] for s in all_schedules}
    assert {"主任医师", "副主任医师", "主治医师"} <= {s["doctor"]["title"] for s in all_schedules}
    assert {"open", "not_released"} <= {s["status"] for s in all_schedules}


def test_schedule_fields_and_slots(client, make):
    schedule_id = make.schedule(capacity=16)
    body = client.get(f"/api/v1/schedules/{schedule_id}").json
    assert body["capacity"] == 16 and body["available"] == 16 and body["status"] == "open"
    assert body["release_at"].endswith("+08:00") and body["doctor"]["title"] == "主治医师"
    slots = client.get(f"/api/v1/schedules/{schedule_id}/slots").json["items"]
    assert len(slots) == 8 and sum(s["capacity"] for s in slots) == 16  # 08:00–12:00 in 30-minute windows
    assert slots[0]["start"].endswith("T08:00:00+08:00") and slots[0]["end"].endswith("T08:30:00+08:00")


def test_available_follows_bookings_and_cancels(client, make):
    schedule_id = make.schedule(capacity=3)
    headers, patient_id = make.resident()
    booked = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                         headers=headers).json
    assert client.get(f"/api/v1/schedules/{schedule_id}").json["available"] == 2
    slots = client.get(f"/api/v1/schedules/{schedule_id}/slots").json["items"]
    assert sum(s["available"] for s in slots) == 2
    client.post(f"/api/v1/appointments/{booked['id']}/cancel", headers=headers)
    assert client.get(f"/api/v1/schedules/{schedule_id}").json["available"] == 3


def test_statuses(client, make):
    assert client.get(f"/api/v1/schedules/{make.schedule(released=False)}").json["status"] == "not_released"
    assert client.get(f"/api/v1/schedules/{make.schedule(stopped=True)}").json["status"] == "stopped"
    assert client.get(f"/api/v1/schedules/{make.schedule(days_ahead=-1)}").json["status"] == "closed"


def test_unknown_ids_are_404_with_codes(client):
    assert client.get("/api/v1/hospitals/nope").json["code"] == "hospital_not_found"
    assert client.get("/api/v1/hospitals/nope/departments").json["code"] == "hospital_not_found"
    assert client.get("/api/v1/departments/nope/doctors").json["code"] == "department_not_found"
    assert client.get("/api/v1/schedules/nope").json["code"] == "schedule_not_found"
    assert client.get("/api/v1/schedules", query_string={"date": "not-a-date"}).status_code == 422
