"""Helpers for 号源预留 tests: schedules keeping tickets back, elders' ID numbers, staff of a hospital."""
import itertools
from datetime import timedelta

import sqlalchemy as sa

from patient_api.common.clock import now, today_local
from patient_api.directory.models import Department, Doctor, Hospital, Schedule, Ticket
from patient_api.directory.schedules import create_schedule
from patient_api.extensions import db

from .factories import day_start, resident_id

PASSWORD = "window-A-2026-secure"
_seq = itertools.count(7000)


def elder_id(n, born="19500101"):
    """An ID number of someone born on `born` (default: well over 65)."""
    return resident_id(n % 1000, born=born)


def pooled_schedule(app, reserved, capacity=10, days_ahead=1, fee_fen=1200, hospital_code="H1", released=True,
                    fee_kind="专家号", period="morning"):
    """A schedule keeping `reserved` ({pool: rule}) back; returns its id."""
    with app.app_context():
        hospital = db.session.scalars(sa.select(Hospital).filter_by(code=hospital_code)).first() or Hospital(
            code=hospital_code, name=f"测试医院{hospital_code}", level="三级甲等", address="泰山区东岳大街1号")
        db.session.add(hospital)
        db.session.flush()
        department = db.session.scalars(sa.select(Department).filter_by(hospital_id=hospital.id, code="NK")).first() \
            or Department(hospital_id=hospital.id, code="NK", name="内科")
        db.session.add(department)
        db.session.flush()
        doctor = Doctor(hospital_id=hospital.id, department_id=department.id, code=f"P{next(_seq)}", name="王医生",
                        title="主任医师")
        db.session.add(doctor)
        db.session.flush()
        day = today_local() + timedelta(days=days_ahead)
        release_at = day_start(day) - timedelta(days=8) if released else now() + timedelta(days=1)
        schedule = create_schedule(hospital, department, doctor, day, period, fee_kind, fee_fen, capacity,
                                   release_at=release_at, reserved=reserved)
        db.session.commit()
        return schedule.id


def kept(app, schedule_id, pool=None):
    """Seq numbers of the schedule's tickets with reserved_for = pool (any pool when None)."""
    with app.app_context():
        query = sa.select(Ticket.seq).where(Ticket.schedule_id == schedule_id)
        query = query.where(Ticket.reserved_for == pool) if pool else query.where(Ticket.reserved_for.is_not(None))
        return sorted(db.session.scalars(query).all())


def schedule_row(app, schedule_id):
    with app.app_context():
        return db.session.get(Schedule, schedule_id)


def staff(app, client, role="registrar", code="H1"):
    """A staff account of hospital `code` made through the CLI and signed in: Authorization headers."""
    with app.app_context():
        if not db.session.scalars(sa.select(Hospital).filter_by(code=code)).first():
            db.session.add(Hospital(code=code, name=f"测试医院{code}", level="三级甲等"))
            db.session.commit()
    username = f"{role}{next(_seq)}"
    result = app.test_cli_runner().invoke(args=["staff", "create", "--hospital", code, "--username", username,
                                                "--password", PASSWORD, "--role", role])
    assert result.exit_code == 0, result.output
    response = client.post("/api/v1/staff/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def refused(response, status, code):
    """The answer is that error, with a Chinese message."""
    assert response.status_code == status, (response.status_code, response.json)
    assert response.json["code"] == code, response.json
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json["message"]), response.json
