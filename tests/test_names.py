"""Appointments and bills name their hospital, department and doctor, with a query count independent of rows."""
import sqlalchemy as sa

from patient_api.billing.services import create_registration_bill
from patient_api.booking.models import Appointment
from patient_api.directory.models import Doctor, Schedule, Ticket
from patient_api.extensions import db

from .sqlcount import statements


def seed(app, make, patient_id, count, first=0):
    """`count` past appointments of the patient, each with its own doctor and a registration bill."""
    for n in range(first, first + count):
        schedule_id = make.schedule(days_ahead=-1 - n)
        with app.app_context():
            schedule = db.session.get(Schedule, schedule_id)
            db.session.get(Doctor, schedule.doctor_id).name = f"医生{n}"
            ticket = db.session.scalars(sa.select(Ticket).filter_by(schedule_id=schedule_id, seq=1)).one()
            appointment = Appointment(patient_id=patient_id, schedule_id=schedule_id, ticket_id=ticket.id,
                                      hospital_id=schedule.hospital_id, department_id=schedule.department_id,
                                      visit_date=schedule.date, status="completed", queue_no=1,
                                      visit_start=ticket.window_start, visit_end=ticket.window_end,
                                      fee_fen=schedule.fee_fen)
            db.session.add(appointment)
            db.session.flush()
            appointment.bill_id = create_registration_bill(appointment, schedule).id
            db.session.commit()


def test_lists_carry_names_and_their_queries_do_not_grow_with_rows(app, client, make):
    headers, patient_id = make.resident(verified=True)
    seed(app, make, patient_id, 2)
    costs = {}
    for rows in (2, 20):
        seed(app, make, patient_id, rows - len(client.get("/api/v1/appointments", headers=headers).json["items"]),
             first=100)
        for path in ("/api/v1/appointments", "/api/v1/bills"):
            with statements(app) as sent:
                items = client.get(path, headers=headers).json["items"]
            assert len(items) == rows
            costs[path, rows] = len(sent)
    for path in ("/api/v1/appointments", "/api/v1/bills"):
        assert costs[path, 20] == costs[path, 2], costs

    appointments = client.get("/api/v1/appointments", headers=headers).json["items"]
    assert {(a["hospital_name"], a["department_name"]) for a in appointments} == {("测试医院H1", "内科")}
    assert len({a["doctor_name"] for a in appointments}) == 20
    bills = client.get("/api/v1/bills", headers=headers).json["items"]
    by_appointment = {a["id"]: a["doctor_name"] for a in appointments}
    assert all(b["doctor_name"] == by_appointment[b["appointment_id"]] and b["department_name"] == "内科"
               and b["hospital_name"] == "测试医院H1" for b in bills)


def test_one_appointment_and_a_fresh_booking_and_a_his_bill_are_named(app, client, make):
    headers, patient_id = make.resident(verified=True)
    schedule_id = make.schedule()
    booked = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                         headers=headers)
    assert booked.status_code == 201
    assert (booked.json["hospital_name"], booked.json["department_name"], booked.json["doctor_name"]) == (
        "测试医院H1", "内科", "李医生")
    again = client.get(f"/api/v1/appointments/{booked.json['id']}", headers=headers).json
    assert again["doctor_name"] == "李医生"
    bill = client.get(f"/api/v1/bills/{booked.json['bill_id']}", headers=headers).json
    assert (bill["hospital_name"], bill["department_name"], bill["doctor_name"]) == ("测试医院H1", "内科", "李医生")


def test_a_his_bill_keeps_the_names_his_sent(app, client, make):
    from .factories import hospital_key, resident_id
    headers = make.login()
    patient_id = make.patient(headers, 9301)
    make.verify(headers, patient_id)
    pushed = client.post("/api/v1/integration/bills", headers=hospital_key(app), json={
        "order_no": "MZ-9301", "patient": {"id_number": resident_id(9301)}, "department": "心血管内科",
        "doctor": "王建国", "items": [{"code": "J001", "name": "心电图", "category": "检查", "quantity": 1,
                                        "unit_price_fen": 2500, "insurance_class": "甲"}]})
    assert pushed.status_code == 201, pushed.json
    [bill] = client.get("/api/v1/bills", headers=headers).json["items"]
    names = (bill["hospital_name"], bill["department_name"], bill["doctor_name"])
    assert names == ("测试医院H1", "心血管内科", "王建国")


def test_the_app_builds_in_a_fresh_process(tmp_path):
    """Loader options are built at query time: built at import, they configured the mappers too early."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "PATIENT_API_INSTANCE_DIR": str(tmp_path), "PATIENT_API_ENV": "development",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "REDIS_URL": "redis://127.0.0.1:1/0"}
    done = subprocess.run([sys.executable, "-c", "import wsgi"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
