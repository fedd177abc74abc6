"""号源预留 for signed residents (签约居民预留): a team doctor's clinic sessions keep a share of tickets for the
residents whose contract in force is with that team.

Family plugs into booking's public hooks, and booking imports nothing of family: the pool is declared with
`directory.pools.register` (its config defaults apply only to schedules of a team's doctors) and its rule with
`booking.eligibility.rule` (services.book applies it on every channel, H5 included). Imported by create_app before
the config defaults are checked, so PATIENT_API_BOOKING_POOLS may name it.
"""
import sqlalchemy as sa
from flask import g, has_request_context

from ..booking import eligibility
from ..directory import pools
from ..extensions import db
from . import contracts
from .models import FamilyTeam, FamilyTeamMember

POOL = "family_team"


def _per_request(key, load):
    """Loaded once per HTTP request: a schedule list asks the rule for every schedule on it, and its answers cannot
    change within one request (outside a request, e.g. a job or a test's app context, every call loads afresh)."""
    if not has_request_context():
        return load()
    store = g.setdefault("family_pools", {})
    if key not in store:
        store[key] = load()
    return store[key]


def _team_doctors():
    """{doctor id: {ids of the active teams the doctor is a member of}} (one query; teams are few)."""
    doctors = {}
    for doctor_id, team_id in db.session.execute(sa.select(FamilyTeamMember.doctor_id, FamilyTeamMember.team_id).join(
            FamilyTeam, FamilyTeam.id == FamilyTeamMember.team_id).where(
            FamilyTeamMember.doctor_id.is_not(None), FamilyTeam.active.is_(True))).all():
        doctors.setdefault(doctor_id, set()).add(team_id)
    return doctors


def teams_of_doctor(doctor_id):
    """Ids of the active teams the doctor is a member of."""
    return _per_request("doctors", _team_doctors).get(doctor_id, set())


def is_team_doctor(doctor_id):
    """The doctor is a member of an active team: their schedules take the family_team defaults."""
    return bool(teams_of_doctor(doctor_id))


pools.register(POOL, "签约居民预留", applies=is_team_doctor)


@eligibility.rule(POOL)
def signed_with_the_doctors_team(patient, schedule, account_id, via):
    """The patient's contract in force on the visit day is with a team the schedule's doctor belongs to."""
    teams = teams_of_doctor(schedule.doctor_id)
    if not teams:  # most schedules: no contract to look up
        return False
    day = schedule.date
    signed = _per_request(("signed", patient.id, day), lambda: contracts.signed_team(patient.id, day))
    return signed is not None and signed["team_id"] in teams
