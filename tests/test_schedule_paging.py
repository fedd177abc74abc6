"""GET /schedules pages with cursors: every schedule is reached once, none is dropped at a cap."""
from datetime import timedelta

from patient_api.common.clock import today_local
from patient_api.directory.models import Department, Doctor, Hospital
from patient_api.directory.schedules import PERIOD_HOURS, create_schedule
from patient_api.extensions import db


def many_schedules(app, count):
    """`count` schedules over the coming week, many sharing a start time (the cursor must break those ties)."""
    with app.app_context():
        hospital = Hospital(code="BIG", name="大医院", level="三级甲等")
        db.session.add(hospital)
        db.session.flush()
        department = Department(hospital_id=hospital.id, code="NK", name="内科")
        db.session.add(department)
        db.session.flush()
        sessions = [(today_local() + timedelta(days=d), p) for d in range(1, 8) for p in PERIOD_HOURS]
        doctors = []
        for n in range(-(-count // len(sessions))):
            doctors.append(Doctor(hospital_id=hospital.id, department_id=department.id, code=f"D{n}",
                                  name=f"医生{n}", title="主治医师"))
        db.session.add_all(doctors)
        db.session.flush()
        for n in range(count):
            day, period = sessions[n % len(sessions)]
            create_schedule(hospital, department, doctors[n // len(sessions)], day, period, "普通号", 1200, 1)
        db.session.commit()
        return hospital.id


def follow(client, query):
    """Every page's items, following next_cursor; returns (ids, pages)."""
    ids, pages, cursor = [], 0, None
    while True:
        response = client.get("/api/v1/schedules", query_string={**query, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json
        pages += 1
        ids += [(s["date"], s["id"]) for s in response.json["items"]]
        cursor = response.json["next_cursor"]
        if cursor is None:
            return ids, pages


def test_600_schedules_are_all_reached_once_by_following_the_cursor(app, client):
    hospital_id = many_schedules(app, 600)
    ids, pages = follow(client, {"hospital_id": hospital_id})
    assert pages == 6 and len(ids) == 600 and len({i for _, i in ids}) == 600  # 100 a page by default
    assert [day for day, _ in ids] == sorted(day for day, _ in ids)  # soonest first
    ids, pages = follow(client, {"hospital_id": hospital_id, "limit": 500})
    assert pages == 2 and len({i for _, i in ids}) == 600
    last = client.get("/api/v1/schedules", query_string={"hospital_id": hospital_id, "limit": 500}).json
    assert last["has_more"] is True and len(last["items"]) == 500


def test_page_size_is_bounded_and_a_bad_cursor_is_a_422(client):
    assert client.get("/api/v1/schedules?limit=501").status_code == 422
    response = client.get("/api/v1/schedules?cursor=not-ours")
    assert response.status_code == 422 and "cursor" in response.json["errors"]
    empty = client.get("/api/v1/schedules").json
    assert empty["items"] == [] and empty["next_cursor"] is None
