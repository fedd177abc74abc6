"""Follow-ups a team sets: the family is reminded once per period (however often the job runs), an upload of the
right kind marks the period done, and a period missed shows as overdue in the team's roster."""
from datetime import timedelta

import sqlalchemy as sa

from patient_api.common.clock import now
from patient_api.extensions import db
from patient_api.family import followups
from patient_api.family.models import FollowUpPeriod, FollowUpPlan

from .family import API, Clinic, told
from .homecare import assert_refused

BP = {"kind": "blood_pressure", "interval_days": 30, "note": "每月测一次血压"}


def set_plans(clinic, contract_id, plans, expect=200, headers=None):
    response = clinic.client.put(f"{API}/staff/family/contracts/{contract_id}/follow-up-plans",
                                 headers=headers or clinic.staff_a, json={"plans": plans})
    assert response.status_code == expect, response.json
    return response.json


def upload(clinic, headers, patient_id, measured_at=None, kind="blood_pressure"):
    body = {"kind": kind, "systolic": 150, "diastolic": 92} if kind == "blood_pressure" else {
        "kind": kind, "value": 6.1, "unit": "mmol/L"}
    if measured_at is not None:
        body["measured_at"] = measured_at.isoformat()
    response = clinic.client.post(f"{API}/patients/{patient_id}/vitals", headers=headers, json=body)
    assert response.status_code == 201, response.json
    return response.json


def remind(app, instant):
    with app.app_context():
        return followups.remind(instant)


def backdate(app, days):
    """Every plan started `days` ago (as if set then)."""
    with app.app_context():
        for row in db.session.scalars(sa.select(FollowUpPlan)).all():
            row.starts_at -= timedelta(days=days)
        for row in db.session.scalars(sa.select(FollowUpPeriod)).all():
            row.starts_at, row.ends_at = row.starts_at - timedelta(days=days), row.ends_at - timedelta(days=days)
        db.session.commit()


def test_one_reminder_per_period_and_an_upload_marks_it_done(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    plans = set_plans(clinic, contract["id"], [BP])["items"]
    assert [(p["kind_name"], p["interval_days"], p["done"], p["overdue"]) for p in plans] == [("血压", 30, False,
                                                                                              False)]
    start = now() + timedelta(minutes=1)
    assert (remind(app, start), remind(app, start + timedelta(hours=5))) == (1, 0)  # the job ran twice
    reminders = told(app, "family.followup_due")
    assert [(p["vital_kind"], p["family_contract_id"]) for _, p in reminders] == [("blood_pressure", contract["id"])]
    inbox = client.get(f"{API}/me/messages", headers=headers).json["items"]
    assert inbox[0]["title"] == "家庭医生随访提醒" and inbox[0]["path"] == f"/family/contracts/{contract['id']}"
    assert "请测量血压，于" in inbox[0]["lines"][1] and "前（含当天）上传" in inbox[0]["lines"][1]

    upload(clinic, headers, patient_id, kind="glucose")  # another kind: not this plan's reading
    assert clinic.mine(headers, contract["id"]).json["follow_ups"][0]["done"] is False
    upload(clinic, headers, patient_id)
    assert clinic.mine(headers, contract["id"]).json["follow_ups"][0]["done"] is True

    second = start + timedelta(days=30)
    assert (remind(app, second), remind(app, second + timedelta(days=1))) == (1, 0)
    assert len(told(app, "family.followup_due")) == 2
    # A reading early in a period, before the job looks, means no reminder for it.
    backdate(app, 60)  # now is in the third period
    upload(clinic, headers, patient_id)
    assert remind(app, now()) == 0
    assert len(told(app, "family.followup_due")) == 2


def test_a_missed_period_is_overdue_in_the_roster_until_a_reading_comes(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    other_headers, other_id, _ = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    on_time = clinic.signed(other_headers, other_id)
    set_plans(clinic, contract["id"], [BP])
    set_plans(clinic, on_time["id"], [BP])
    backdate(app, 40)  # both plans are in their second period; the first ended ten days ago
    upload(clinic, other_headers, other_id, measured_at=now() - timedelta(days=35))  # a reading of the first period

    roster = client.get(f"{API}/staff/family/teams/{clinic.team_a}/roster", headers=clinic.staff_a).json["items"]
    by_id = {c["id"]: c for c in roster}
    late = by_id[contract["id"]]
    assert late["overdue"] is True and late["follow_ups"][0]["overdue_since"] is not None
    assert by_id[on_time["id"]]["overdue"] is False
    assert by_id[on_time["id"]]["latest_readings"][0]["systolic"] == 150
    assert "*" in late["patient_name"]  # masked for the team as for everyone
    overdue = client.get(f"{API}/staff/family/teams/{clinic.team_a}/overdue-follow-ups",
                         headers=clinic.staff_a).json["items"]
    assert [(o["contract_id"], o["kind"]) for o in overdue] == [(contract["id"], "blood_pressure")]

    upload(clinic, headers, patient_id)
    assert client.get(f"{API}/staff/family/teams/{clinic.team_a}/overdue-follow-ups",
                      headers=clinic.staff_a).json["items"] == []
    log = client.get(f"{API}/patients/{patient_id}/access-log", headers=headers).json["items"]
    assert "测试医院FZWSY 家庭医生团队" in {row["actor"] for row in log}  # the roster's reads are on record


def test_plans_are_replaced_kept_or_ended(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    first = set_plans(clinic, contract["id"], [BP])["items"][0]
    kept = set_plans(clinic, contract["id"], [{**BP, "note": "早晨起床后测"},
                                              {"kind": "glucose", "interval_days": 90}])["items"]
    assert [(p["kind"], p["note"]) for p in kept] == [("blood_pressure", "早晨起床后测"), ("glucose", None)]
    assert kept[0]["id"] == first["id"]  # same kind and interval: the same plan, its periods go on
    changed = set_plans(clinic, contract["id"], [{**BP, "interval_days": 14}])["items"]
    assert changed[0]["id"] != first["id"] and changed[0]["interval_days"] == 14
    assert set_plans(clinic, contract["id"], [])["items"] == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpPlan).filter_by(active=True)) == 0


def test_no_reminders_once_the_contract_ended(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    set_plans(clinic, contract["id"], [BP])
    assert clinic.mine(headers, contract["id"], "/end", "post", {}).status_code == 200
    assert remind(app, now() + timedelta(minutes=1)) == 0
    assert_refused(client.put(f"{API}/staff/family/contracts/{contract['id']}/follow-up-plans",
                              headers=clinic.staff_a, json={"plans": [BP]}), 409, "invalid_contract_state")


def test_bad_plans_are_refused_in_chinese_and_nothing_is_stored(app, client, make):
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    for plans, field in (([{**BP, "interval_days": 0}], "plans"), ([BP, BP], "plans"),
                         ([{**BP, "kind": "pulse"}], "plans"), ([{**BP, "interval_days": "30"}], "plans"),
                         ([{**BP, "extra": 1}], "plans")):
        response = client.put(f"{API}/staff/family/contracts/{contract['id']}/follow-up-plans",
                              headers=clinic.staff_a, json={"plans": plans})
        assert_refused(response, 422, "validation_error")
        assert field in response.json["errors"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpPlan)) == 0


def test_a_reading_taken_earlier_on_the_day_the_plan_was_set_counts(app, client, make):
    """Periods run in whole days: a reading entered to the minute, from before the team set the plan that day, is
    this period's (the H5 form sends the time without seconds)."""
    clinic = Clinic(app, client, make)
    headers, patient_id, _ = clinic.resident()
    contract = clinic.signed(headers, patient_id)
    plan = set_plans(clinic, contract["id"], [BP])["items"][0]
    assert plan["period_start"].endswith("T00:00:00+08:00") and plan["due_on"] < plan["due_at"][:10]
    upload(clinic, headers, patient_id, measured_at=followups.day_start(now()) + timedelta(minutes=1))
    assert clinic.mine(headers, contract["id"]).json["follow_ups"][0]["done"] is True
    assert remind(app, now()) == 0
