"""Races for the one contract in force per person: two teams accepting the same person's applications at once, and a
team accepting while another clinic's system pushes a contract. The database's partial unique index decides; the
loser answers 409 already_signed and nothing of it is stored."""
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from patient_api.extensions import db
from patient_api.records.models import FamilyDoctorContract

from .conftest import is_postgres
from .family import API, Clinic, person_id, pushed


def together(app, calls):
    """Run every (name, fn(client)) at the same moment; returns [(name, status, body)]."""
    barrier = threading.Barrier(len(calls))

    def run(name, fn):
        client = app.test_client()
        barrier.wait()
        response = fn(client)
        return name, response.status_code, response.json

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(run, *call) for call in calls]]


def active_per_person(app):
    with app.app_context():
        return Counter(db.session.scalars(sa.select(FamilyDoctorContract.person_index).filter_by(
            status="active")).all())


def test_two_teams_accepting_one_person_at_once_sign_them_once(app, client, make):
    clinic = Clinic(app, client, make)
    people = 6 if is_postgres(app) else 2
    pairs = []
    for _ in range(people):
        headers, patient_id, _ = clinic.resident()
        pairs.append((clinic.apply(headers, patient_id)["id"],
                      clinic.apply(headers, patient_id, team_id=clinic.team_b)["id"]))
    calls = [((i, team), lambda c, cid=cid, staff=staff: c.post(
        f"{API}/staff/family/contracts/{cid}/accept", headers=staff))
        for i, (to_a, to_b) in enumerate(pairs)
        for team, cid, staff in (("a", to_a, clinic.staff_a), ("b", to_b, clinic.staff_b))]
    answers = together(app, calls)
    for i in range(people):
        mine = sorted((status, body.get("code") or body["status"]) for (who, _), status, body in answers
                      if who == i)
        assert mine == [(200, "active"), (409, "already_signed")], mine  # the first accept wins
    assert set(active_per_person(app).values()) == {1} and len(active_per_person(app)) == people
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FamilyDoctorContract).filter_by(
            status="applied")) == 0  # the losing applications were withdrawn, none left waiting


def test_a_team_accepting_while_another_clinic_pushes_signs_once(app, client, make):
    clinic = Clinic(app, client, make)
    elsewhere = Clinic(app, client, make, code="XCWSY")
    people = 6 if is_postgres(app) else 2
    calls = []
    for i in range(people):
        headers, patient_id, person = clinic.resident()
        contract = clinic.apply(headers, patient_id)
        calls.append(((i, "accept"), lambda c, cid=contract["id"]: c.post(
            f"{API}/staff/family/contracts/{cid}/accept", headers=clinic.staff_a)))
        calls.append(((i, "push"), lambda c, number=person["id_number"], n=i: c.post(
            f"{API}/integration/family-doctor-contracts", json=pushed(number, contract_no=f"XC-{n}"),
            headers=elsewhere.hospital.his)))
    answers = together(app, calls)
    wins = Counter()
    for i in range(people):
        mine = {what: (status, body) for (who, what), status, body in answers if who == i}
        accepted, push = mine["accept"], mine["push"]
        if accepted[0] == 200:
            assert push[0] == 409 and push[1]["code"] == "already_signed", mine
            wins["team"] += 1
        else:
            assert accepted[0] == 409 and accepted[1]["code"] == "already_signed" and push[0] == 201, mine
            wins["centre"] += 1
    assert set(active_per_person(app).values()) == {1} and len(active_per_person(app)) == people
    with app.app_context():  # a refused push left no row behind
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FamilyDoctorContract).where(
            FamilyDoctorContract.contract_no.like("XC-%"))) == wins["centre"]


def test_two_clinics_pushing_for_someone_not_registered_here_sign_them_once(app, client, make):
    """No patient row to take turns on: the partial unique index alone decides, and the loser stores nothing."""
    first = Clinic(app, client, make)
    second = Clinic(app, client, make, code="XCWSY")
    people = 6 if is_postgres(app) else 2
    numbers = [person_id(900 + i, "19500101") for i in range(people)]
    calls = [((i, clinic.code), lambda c, number=number, clinic=clinic, i=i: c.post(
        f"{API}/integration/family-doctor-contracts", json=pushed(number, contract_no=f"{clinic.code}-{i}"),
        headers=clinic.hospital.his)) for i, number in enumerate(numbers) for clinic in (first, second)]
    answers = together(app, calls)
    for i in range(people):
        statuses = sorted((status, body.get("code") or body["status"]) for (who, _), status, body in answers
                          if who == i)
        assert statuses == [(201, "active"), (409, "already_signed")], statuses
    assert set(active_per_person(app).values()) == {1} and len(active_per_person(app)) == people
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FamilyDoctorContract)) == people
