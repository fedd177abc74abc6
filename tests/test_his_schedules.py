"""HIS pushes schedules (出诊) with their tickets and 号源预留."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from patient_api.common.clock import today_local
from patient_api.directory.models import Department, Doctor, Schedule, Ticket
from patient_api.extensions import db

from .factories import hospital_key
from .pools import kept, refused

PUSH = "/api/v1/integration/schedules"


def push_body(**changes):
    return {"department": {"code": "XNK", "name": "心内科"},
            "doctor": {"code": "D900", "name": "刘主任", "title": "主任医师"},
            "date": (today_local() + timedelta(days=3)).isoformat(), "period": "morning", "fee_kind": "专家号",
            "fee_fen": 5000, "capacity": 20,
            "reserved": {"referral": {"share": 0.2, "release_hours_before": 24}}} | changes


def rows(app):
    with app.app_context():
        return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (Department, Doctor, Schedule, Ticket)}


def test_a_pushed_schedule_keeps_its_referral_share_until_a_day_before(app, client):
    his = hospital_key(app)
    made = client.post(PUSH, json=push_body(), headers=his)
    assert made.status_code == 201, made.json
    schedule = made.json
    assert (schedule["capacity"], schedule["available"]) == (20, 16)
    assert schedule["reserved"] == {"referral": 4, "elder": 0, "family_team": 0}
    assert schedule["doctor"]["name"] == "刘主任" and schedule["fee_kind"] == "专家号"
    assert kept(app, schedule["id"], "referral") == [3, 8, 13, 18]
    with app.app_context():
        row = db.session.get(Schedule, schedule["id"])
        releases = set(db.session.scalars(sa.select(Ticket.release_at).where(Ticket.reserved_for == "referral")))
        assert releases == {row.starts_at - timedelta(hours=24)}
        assert row.reservations == {"referral": {"share": 0.2, "release_hours_before": 24}}
    again = client.post(PUSH, json=push_body(), headers=his)
    assert again.status_code == 201 and again.json["id"] == schedule["id"]
    assert rows(app) == {"Department": 1, "Doctor": 1, "Schedule": 1, "Ticket": 20}
    changed = client.post(PUSH, json=push_body(reserved={"elder": {"share": 0.1, "release_hours_before": 12}}),
                          headers=his)
    assert changed.status_code == 201 and changed.json["reserved"] == {"referral": 0, "elder": 2, "family_team": 0}
    assert changed.json["available"] == 18
    refused(client.post(PUSH, json=push_body(capacity=30), headers=his), 409, "schedule_conflict")
    refused(client.post(PUSH, json=push_body(fee_fen=3000), headers=his), 409, "schedule_conflict")


def test_without_reserved_the_configured_defaults_apply_and_an_empty_one_keeps_nothing(app, client):
    his = hospital_key(app)
    app.config["BOOKING_POOLS"] = [{"pool": "elder", "share": 0.1, "release_hours_before": 24},
                                   {"pool": "referral", "level": 3, "fee_kind": "专家号", "share": 0.2}]
    try:
        body = push_body()
        del body["reserved"]
        defaults = client.post(PUSH, json=body, headers=his).json
        plain = client.post(PUSH, json=push_body(reserved={}, doctor={"code": "D901", "name": "陈医生",
                                                                     "title": "主治医师"}), headers=his).json
    finally:
        app.config["BOOKING_POOLS"] = []
    assert defaults["reserved"] == {"referral": 4, "elder": 2, "family_team": 0} and defaults["available"] == 14
    assert plain["reserved"] == {"referral": 0, "elder": 0, "family_team": 0} and plain["available"] == 20
    with app.app_context():
        assert db.session.get(Schedule, plain["id"]).reservations is None


def test_a_schedule_for_a_known_department_and_doctor_needs_only_their_codes(app, client):
    his = hospital_key(app)
    client.post(PUSH, json=push_body(), headers=his)
    later = push_body(department={"code": "XNK"}, doctor={"code": "D900"}, period="afternoon", reserved={})
    made = client.post(PUSH, json=later, headers=his)
    assert made.status_code == 201, made.json
    assert rows(app)["Schedule"] == 2 and rows(app)["Doctor"] == 1


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"reserved": {"referral": {"share": 1.2, "release_hours_before": 24}}}, "validation_error", "reserved"),
    ({"reserved": {"vip": {"share": 0.1, "release_hours_before": 24}}}, "validation_error", "reserved"),
    ({"reserved": {"elder": {"share": 0.1}}}, "validation_error", "reserved"),
    ({"reserved": {"elder": {"share": 0.1, "release_at": "2199-01-01T00:00:00+08:00"}}}, "release_after_session",
     "reserved"),
    ({"date": "2020-01-01"}, "schedule_in_past", "date"),
    ({"period": "night"}, "validation_error", "period"),
    ({"capacity": 0}, "validation_error", "capacity"),
    ({"capacity": "20"}, "validation_error", "capacity"),
    ({"fee_fen": -1}, "validation_error", "fee_fen"),
    ({"department": {"code": "NEW"}}, "department_unknown", "department"),
    ({"doctor": {"code": "NEW", "name": "新医生"}}, "doctor_unknown", "doctor"),
    ({"room": "3楼"}, "validation_error", "room"),
])
def test_bad_pushes_are_refused_in_chinese_and_store_nothing(app, client, changes, code, field):
    his = hospital_key(app)
    answer = client.post(PUSH, json=push_body(**changes), headers=his)
    refused(answer, 422, code)
    assert field in answer.json["errors"]
    assert rows(app) == {"Department": 0, "Doctor": 0, "Schedule": 0, "Ticket": 0}


def test_only_a_hospital_system_may_push(app, client, make):
    hospital_key(app)
    refused(client.post(PUSH, json=push_body()), 401, "invalid_hospital_key")
    refused(client.post(PUSH, json=push_body(), headers=make.login()), 401, "invalid_hospital_key")
    assert rows(app)["Schedule"] == 0


def test_each_hospital_pushes_into_its_own_directory(app, client):
    first, second = hospital_key(app, "H1"), hospital_key(app, "H2")
    one = client.post(PUSH, json=push_body(), headers=first).json
    two = client.post(PUSH, json=push_body(), headers=second).json
    assert one["id"] != two["id"] and one["hospital_id"] != two["hospital_id"]
    assert rows(app) == {"Department": 2, "Doctor": 2, "Schedule": 2, "Ticket": 40}
