"""Contracts as community health centres' systems push them (POST /integration/family-doctor-contracts): the same
table and the same one-active rule as signing online, so both ways of signing agree on who is signed with whom."""
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..common.clock import now, to_local
from ..common.locking import lock_row
from ..directory.models import Hospital
from ..errors import Invalid
from ..extensions import db
from ..records.models import FamilyDoctorContract
from . import catalogue
from .contracts import activate, already_signed, current, end_plans, lock_person, locked, patient_of
from .models import FamilyTeam, FollowUpPlan

FIELDS = ("team", "doctor", "phone", "package", "starts_on", "ends_on")
ENDED_BY_CENTRE = {"ended": "签约机构已办理解约", "cancelled": "签约机构已撤销签约", "expired": "签约已到期"}


def _team(hospital, body):
    """The team the push names by code (422 unknown_team if the clinic has none such), else by its exact name."""
    if body.get("team_code"):
        team = catalogue.team_by_code(hospital, body["team_code"])
        if team is None:
            raise Invalid("本机构没有该团队编码", code="unknown_team", errors={"team_code": ["本机构没有该团队"]})
        return team
    return db.session.scalars(sa.select(FamilyTeam).filter_by(hospital_id=hospital.id, name=body["team"])).first()


def _package(hospital, body):
    """The package the push names by code (422 unknown_package if the clinic has none such), or None."""
    if not body.get("package_code"):
        return None
    package = catalogue.package_by_code(hospital, body["package_code"])
    if package is None:
        raise Invalid("本机构没有该服务包编码", code="unknown_package", errors={"package_code": ["本机构没有该服务包"]})
    return package


def _replace_own(hospital, contract, instant):
    """The person's contract in force elsewhere refuses this one (409 already_signed); the same clinic's earlier one
    gives way: `renewed` when the new one is with the same team (its follow-ups carry over), else `ended`."""
    other = current(contract.person_index)
    if other is None or other.id == contract.id:
        return
    if other.hospital_id != hospital.id:
        raise already_signed()
    other = locked(other)
    same_team = (other.team_id or other.team) == (contract.team_id or contract.team)
    other.status, other.ended_at, other.updated_at = ("renewed" if same_team else "ended"), instant, instant
    other.end_reason = "签约机构已续签" if same_team else "签约机构已改签其他团队"
    if same_team:
        contract.renewed_from_id = other.id
        db.session.execute(sa.update(FollowUpPlan).where(FollowUpPlan.contract_id == other.id,
                                                         FollowUpPlan.active.is_(True))
                           .values(contract_id=contract.id).execution_options(synchronize_session=False))
    else:
        end_plans(other, instant)
    db.session.flush()


def save_pushed(hospital, person_index, body, instant=None):
    """Create or update a contract by (hospital, contract_no); returns (contract, created). An `active` one whose end
    is past is stored `expired`."""
    instant = instant or now()
    team, package = _team(hospital, body), _package(hospital, body)
    status = body["status"]
    if status == "active" and body["ends_on"] < to_local(instant).date():
        status = "expired"
    keys = {"hospital_id": hospital.id, "contract_no": body["contract_no"]}
    # One clinic's pushes take turns (they are few); this also opens the transaction the savepoint below needs on
    # SQLite, where a savepoint outside one would commit on release.
    lock_row(Hospital, hospital.id, keep_keys=True)
    lock_person(person_index)
    contract = db.session.scalars(sa.select(FamilyDoctorContract).filter_by(**keys)).first()
    created = contract is None
    if created:
        try:
            with db.session.begin_nested():
                # Stored inactive first; becoming active goes through activate(), like an online contract.
                contract = FamilyDoctorContract(**keys, person_index=person_index, source="push",
                                                status="cancelled" if status == "active" else status,
                                                **{name: body.get(name) for name in FIELDS})
                db.session.add(contract)
                db.session.flush()
        except IntegrityError:  # the same contract pushed twice at once: the other push created it, this one updates
            contract, created = db.session.scalars(sa.select(FamilyDoctorContract).filter_by(**keys)).one(), False
    contract = locked(contract)
    previous = None if created else contract.status
    for name in FIELDS:
        setattr(contract, name, body.get(name))
    contract.person_index, contract.updated_at = person_index, instant
    if team is not None:
        contract.team_id = team.id
    elif contract.team_id is not None and db.session.get(FamilyTeam, contract.team_id).name != body["team"]:
        contract.team_id = None  # the centre moved the person to a team it does not name by code
    contract.package_id = package.id if package else contract.package_id
    patient_of(contract)
    if status == "active":
        if previous != "active":
            _replace_own(hospital, contract, instant)
            activate(contract, instant)
    else:
        contract.status = status
        if previous == "active":
            contract.ended_at, contract.end_reason = instant, ENDED_BY_CENTRE[status]
            end_plans(contract, instant)
    return contract, created
