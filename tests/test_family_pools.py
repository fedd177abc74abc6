"""签约居民预留 (号源预留 family_team): a team doctor's sessions keep tickets for the residents signed with that team;
others (signed elsewhere, unsigned, the public) never get one before the release."""
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import sqlalchemy as sa

from patient_api.booking import pools, services
from patient_api.booking.models import Appointment
from patient_api.common.clock import now, today_local
from patient_api.directory import pools as directory_pools
from patient_api.directory.models import Department, Doctor, Hospital, Schedule, Ticket
from patient_api.directory.schedules import create_schedule
from patient_api.errors import ApiError
from patient_api.extensions import db
from patient_api.family import catalogue
from patient_api.family.models import FamilyTeam, FamilyTeamMember

from .factories import day_start
from .family import Clinic
from .pools import refused
from .test_races import BOOK, residents, threads_for

DEFAULTS = [{"pool": "family_team", "share": 0.3, "release_hours_before": 2}]
_codes = iter(range(100, 10_000))


def team_doctor(app, clinic, team_id=None):
    """A doctor row of the clinic linked to team A (or `team_id`) as its doctor member; the doctor's id."""
    with app.app_context():
        hospital = db.session.scalars(sa.select(Hospital).filter_by(code=clinic.code)).one()
        department = db.session.scalars(sa.select(Department).filter_by(hospital_id=hospital.id, code="QK")).first()
        if department is None:
            department = Department(hospital_id=hospital.id, code="QK", name="全科门诊")
            db.session.add(department)
            db.session.flush()
        doctor = Doctor(hospital_id=hospital.id, department_id=department.id, code=f"QK{next(_codes)}",
                        name="王立新", title="主治医师")
        db.session.add(doctor)
        db.session.flush()
        if team_id is not False:
            catalogue.add_member(db.session.get(FamilyTeam, team_id or clinic.team_a), "王立新", "doctor",
                                 "全科主治医师", doctor=doctor)
        db.session.commit()
        return doctor.id


def schedule_of(app, doctor_id, capacity=10, release_at=None):
    """Tomorrow's session of the doctor, rules from the config defaults (DEFAULTS), open for booking."""
    app.config["BOOKING_POOLS"] = DEFAULTS
    try:
        with app.app_context():
            doctor = db.session.get(Doctor, doctor_id)
            hospital = db.session.get(Hospital, doctor.hospital_id)
            department = db.session.get(Department, doctor.department_id)
            day = today_local() + timedelta(days=1)
            reserved = None if release_at is None else {"family_team": {"share": 0.3, "release_at": release_at}}
            schedule = create_schedule(hospital, department, doctor, day, "morning", "普通号", 1200, capacity,
                                       release_at=day_start(day) - timedelta(days=8), reserved=reserved)
            db.session.commit()
            return schedule.id
    finally:
        app.config["BOOKING_POOLS"] = []


def signed_with(clinic, team="a"):
    """(headers, patient_id) of a verified resident whose contract in force is with team a or b."""
    headers, patient_id, _ = clinic.resident()
    if team == "a":
        clinic.signed(headers, patient_id)
    else:
        contract = clinic.apply(headers, patient_id, team_id=clinic.team_b)
        clinic.staff_post(clinic.staff_b, contract["id"], "accept")
    return headers, patient_id


def book(client, headers, patient_id, schedule_id):
    return client.post(BOOK, json={"schedule_id": schedule_id, "patient_id": patient_id}, headers=headers)


def kept_seqs(app, schedule_id):
    with app.app_context():
        return sorted(db.session.scalars(sa.select(Ticket.seq).where(
            Ticket.schedule_id == schedule_id, Ticket.reserved_for == "family_team")).all())


def test_defaults_keep_tickets_on_team_doctors_schedules_only(app, client, make):
    clinic = Clinic(app, client, make, code="FPWSY1")
    ours, other = team_doctor(app, clinic), team_doctor(app, clinic, team_id=False)
    assert kept_seqs(app, schedule_of(app, ours)) == [2, 6, 9]  # 30 % of 10, spread over the morning
    assert kept_seqs(app, schedule_of(app, other)) == []
    assert directory_pools.POOLS["family_team"] == "签约居民预留"
    with app.app_context():
        member = db.session.scalars(sa.select(FamilyTeamMember).filter_by(doctor_id=ours)).one()
        assert member.team_id == clinic.team_a


def test_a_signed_resident_of_the_team_gets_a_kept_ticket_when_the_public_ones_are_gone(app, client, make):
    clinic = Clinic(app, client, make, code="FPWSY2")
    schedule_id = schedule_of(app, team_doctor(app, clinic))
    signed_a, signed_b = signed_with(clinic, "a"), signed_with(clinic, "b")
    unsigned = clinic.resident()[:2]
    public = residents(app, 8, start=61_000)
    answers = [book(client, headers, patient_id, schedule_id) for headers, patient_id, _ in public]
    assert [a.status_code for a in answers] == [201] * 7 + [409]
    assert {a.json["pool"] for a in answers[:7]} == {None}
    shown = client.get(f"/api/v1/schedules/{schedule_id}").json
    assert (shown["available"], shown["reserved"]["family_team"]) == (0, 3)
    refused(book(client, *signed_b, schedule_id), 409, "sold_out")  # signed, but with the other team
    refused(book(client, *unsigned, schedule_id), 409, "sold_out")
    taken = book(client, *signed_a, schedule_id)  # on H5, the resident's own account
    assert taken.status_code == 201 and taken.json["pool"] == "family_team", taken.json
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket).filter_by(appointment_id=taken.json["id"])).one()
        assert ticket.reserved_for == "family_team"
    assert client.get(f"/api/v1/schedules/{schedule_id}").json["reserved"]["family_team"] == 2


def test_a_signed_resident_takes_the_pool_first_and_the_hook_refuses_the_unsigned(app, client, make):
    clinic = Clinic(app, client, make, code="FPWSY3")
    schedule_id = schedule_of(app, team_doctor(app, clinic))
    _, signed = signed_with(clinic)
    _, unsigned = clinic.resident()[:2]
    with app.app_context():
        assert services.book(None, signed, schedule_id, via="counter:s1").pool == "family_team"
        try:
            pools.book_from_pool("family_team", unsigned, schedule_id, via="counter:s1")
            raise AssertionError("an unsigned resident took a family_team ticket")
        except ApiError as refusal:
            assert refusal.code == "pool_not_eligible"
        db.session.rollback()


def test_unused_kept_tickets_go_public_at_the_release(app, client, make, ctx):
    clinic = Clinic(app, client, make, code="FPWSY4")
    release = now() + timedelta(hours=1)
    schedule_id = schedule_of(app, team_doctor(app, clinic), release_at=release)
    before, after = release - timedelta(seconds=1), release + timedelta(seconds=1)
    public = [patient_id for _, patient_id, _ in residents(app, 9, start=62_000)]
    for patient_id in public[:7]:
        assert services.book(None, patient_id, schedule_id, before, via="kiosk:k1").pool is None
    db.session.commit()
    try:
        services.book(None, public[7], schedule_id, before, via="kiosk:k1")
        raise AssertionError("the public took a kept ticket before its release")
    except ApiError as refusal:
        assert refusal.code == "sold_out"
    db.session.rollback()
    taken = services.book(None, public[7], schedule_id, after, via="kiosk:k1")
    db.session.commit()
    assert taken.pool is None and db.session.get(Ticket, taken.ticket_id).reserved_for == "family_team"
    assert pools.release_job(after) == {"family_team": 2}
    assert db.session.get(Schedule, schedule_id).available == 2


def test_public_and_signed_bookers_racing_never_oversell_and_the_public_gets_no_kept_ticket(app, client, make):
    clinic = Clinic(app, client, make, code="FPWSY5")
    schedule_id = schedule_of(app, team_doctor(app, clinic), capacity=20)
    assert len(kept_seqs(app, schedule_id)) == 6
    signed = [signed_with(clinic) for _ in range(10)]
    public = residents(app, 60, start=63_000)
    calls = [("signed", headers, patient_id) for headers, patient_id in signed]
    calls += [("public", headers, patient_id) for headers, patient_id, _ in public]
    calls = calls[::4] + calls[1::4] + calls[2::4] + calls[3::4]  # kinds interleaved, so they really race

    def run(call):
        kind, headers, patient_id = call
        response = app.test_client().post(BOOK, json={"schedule_id": schedule_id, "patient_id": patient_id},
                                          headers=headers)
        return kind, patient_id, response.json["id"] if response.status_code == 201 else response.json["code"]

    with ThreadPoolExecutor(max_workers=threads_for(app)) as pool:
        results = list(pool.map(run, calls))
    booked = [r for _, _, r in results if r.startswith("apt")]
    assert len(booked) == 20 and Counter(r for _, _, r in results if not r.startswith("apt")) == {"sold_out": 50}
    signed_ids = {patient_id for _, patient_id in signed}
    with app.app_context():
        rows = db.session.execute(sa.select(Ticket.status, Ticket.reserved_for, Appointment.pool,
                                            Appointment.patient_id)
                                  .join(Appointment, Appointment.id == Ticket.appointment_id)
                                  .where(Ticket.schedule_id == schedule_id)).all()
        assert len(rows) == 20 and all(status == "held" for status, *_ in rows)  # every ticket once, none twice
        for _, kept_for, pool, patient_id in rows:
            if kept_for == "family_team":
                assert pool == "family_team" and patient_id in signed_ids
            else:
                assert pool is None
        assert Counter(kept_for for _, kept_for, *_ in rows) == {None: 14, "family_team": 6}
        assert db.session.get(Schedule, schedule_id).available == 0


def test_the_cli_links_a_team_member_to_the_clinics_doctor(app, client, make):
    clinic = Clinic(app, client, make, code="FPWSY6")
    doctor_id = team_doctor(app, clinic, team_id=False)
    with app.app_context():
        code = db.session.get(Doctor, doctor_id).code
    base = ["family", "add-member", "--hospital", clinic.code, "--team", clinic.team_code("b"), "--name", "李春梅",
            "--member-role", "doctor"]
    unknown = app.test_cli_runner().invoke(args=[*base, "--doctor-code", "NOPE"])
    assert unknown.exit_code != 0 and "no doctor NOPE" in unknown.output
    nurse = app.test_cli_runner().invoke(args=[*base[:-1], "nurse", "--doctor-code", code])
    assert nurse.exit_code != 0 and "医生" in nurse.output
    added = app.test_cli_runner().invoke(args=[*base, "--doctor-code", code])
    assert added.exit_code == 0, added.output
    with app.app_context():
        assert db.session.scalars(sa.select(FamilyTeamMember.team_id).filter_by(doctor_id=doctor_id)).one() \
            == clinic.team_b
