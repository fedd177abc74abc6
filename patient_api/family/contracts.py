"""The contract lifecycle: apply → accepted (active) | declined | withdrawn; active → renewed | ended | expired.

Pushed contracts (community health centres' systems) and online ones are rows of the same table
(records.models.FamilyDoctorContract). A person has at most one `active` contract: the partial unique index on the
table decides between two paths that race (two teams accepting, a centre's push, a renewal); the loser answers 409
already_signed and stores nothing.
"""
import secrets
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..accounts import links
from ..accounts.models import Patient
from ..common import events
from ..common.clock import now, to_local
from ..common.locking import lock_row
from ..errors import Conflict, Invalid
from ..extensions import db
from ..records.models import FamilyDoctorContract
from . import catalogue, eligibility
from .models import FamilyTeam, FollowUpPlan
from .notices import tell_family, tell_team

RENEWAL_DAYS = 30  # a contract may be renewed within this many days of its end


def already_signed():
    """409: the person already has a contract in force (with this or another team)."""
    return Conflict("该就诊人已有生效中的家庭医生签约，一人同一时间只能与一个团队签约；如需更换团队，请先解约",
                    code="already_signed")


def invalid_state(message):
    """409 for a step the contract's present state does not allow."""
    return Conflict(message, code="invalid_contract_state")


def term_end(starts_on):
    """The last day of a one-year term (29 February starts end on 27 February)."""
    try:
        return starts_on.replace(year=starts_on.year + 1) - timedelta(days=1)
    except ValueError:
        return date(starts_on.year + 1, 2, 28) - timedelta(days=1)


def contract_no(instant):
    """WX20261130K3M2P9QA: online contracts' numbers (the centre's pushes bring their own)."""
    return f"WX{to_local(instant):%Y%m%d}{secrets.token_hex(4).upper()}"


def current(person_index):
    """The person's active contract (whatever its dates), or None."""
    return db.session.scalars(sa.select(FamilyDoctorContract).where(
        FamilyDoctorContract.person_index == person_index, FamilyDoctorContract.status == "active")).first()


def in_force(person_index, day):
    """The person's active contract covering `day`, or None."""
    contract = current(person_index)
    return contract if contract is not None and contract.starts_on <= day <= contract.ends_on else None


def signed_team(patient_id, day=None):
    """The team the patient is signed with today, for other features (slots a team reserves for its signed residents,
    priority on its referrals): {"team_id", "hospital_id", "contract_id", "package_id", "ends_on"} or None (not signed,
    or signed by a centre's push that names no team known here)."""
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        return None
    contract = in_force(patient.id_number_index, day or to_local(now()).date())
    if contract is None or contract.team_id is None:
        return None
    return {"team_id": contract.team_id, "hospital_id": contract.hospital_id, "contract_id": contract.id,
            "package_id": contract.package_id, "ends_on": contract.ends_on}


def patient_of(contract):
    """The registered patient the contract is about (filled in on a pushed one once they register), or None."""
    if contract.patient_id is None:
        contract.patient_id = db.session.scalar(sa.select(Patient.id).filter_by(
            id_number_index=contract.person_index))
    return db.session.get(Patient, contract.patient_id) if contract.patient_id else None


def locked(contract):
    """The contract under its row lock, fresh: staff, resident, centre and jobs take turns."""
    lock_row(FamilyDoctorContract, contract.id)
    db.session.refresh(contract)
    return contract


def lock_person(person_index):
    """Serialise whatever may make one of the person's contracts active (accepts, renewals, pushes) on their patient
    row, taken before any contract row: without it two accepts each holding their own application and waiting for
    the other's (to withdraw it) would deadlock. Nothing to lock for someone not registered here: they have no
    online application to race with."""
    patient_id = db.session.scalar(sa.select(Patient.id).filter_by(id_number_index=person_index))
    if patient_id is not None:
        lock_row(Patient, patient_id, keep_keys=True)


def changed(contract, previous, instant):
    """Tell whoever subscribes (the clinic's webhook) that a contract changed state."""
    events.publish("family.contract_changed", contract=contract, previous=previous, instant=instant)


def activate(contract, instant):
    """Make `contract` the person's active one; 409 already_signed when another is, even one made active at this
    very moment by another request (the partial unique index refuses the second)."""
    other = current(contract.person_index)
    if other is not None and other.id != contract.id:
        raise already_signed()
    try:
        with db.session.begin_nested():
            contract.status, contract.updated_at = "active", instant
            db.session.flush()
    except IntegrityError:
        raise already_signed() from None
    withdraw_others(contract, instant)


def withdraw_others(contract, instant):
    """The person's other open applications lapse once a contract is in force."""
    for other in db.session.scalars(sa.select(FamilyDoctorContract).where(
            FamilyDoctorContract.person_index == contract.person_index, FamilyDoctorContract.status == "applied",
            FamilyDoctorContract.id != contract.id)).all():
        other.status, other.ended_at, other.updated_at = "withdrawn", instant, instant
        other.end_reason = "已与其他家庭医生团队签约"


def end_plans(contract, instant):
    """A contract no longer in force has no follow-ups."""
    db.session.execute(sa.update(FollowUpPlan).where(FollowUpPlan.contract_id == contract.id,
                                                     FollowUpPlan.active.is_(True))
                       .values(active=False, ended_at=instant).execution_options(synchronize_session=False))


def apply(account_id, body, instant=None):
    """A verified link (the person or a consented proxy) applies for a package with a team covering their address."""
    instant = instant or now()
    patient = links.verified_link(account_id, body["patient_id"]).patient
    team = catalogue.published_team(body["team_id"])
    package = catalogue.team_package(team, body["package_id"])
    if not catalogue.covers(team, body["region_code"], body["community"]):
        raise Invalid("该团队不负责您所在的村（社区），请选择负责您所在地的团队", code="area_not_covered",
                      errors={"community": ["不在该团队服务范围内"]})
    eligibility.check(package, patient, body["conditions"], instant)
    if current(patient.id_number_index) is not None:
        raise already_signed()
    if catalogue.remaining(team) <= 0:
        raise Conflict("该团队签约名额已满，请选择其他团队", code="team_full")
    # Applications of one person take turns; this also opens the transaction the savepoint below needs on SQLite.
    lock_person(patient.id_number_index)
    today = to_local(instant).date()
    lead = team.lead
    contract = FamilyDoctorContract(
        person_index=patient.id_number_index, hospital_id=team.hospital_id, contract_no=contract_no(instant),
        team=team.name, doctor=lead.name if lead else team.name, phone=team.phone, package=package.name,
        starts_on=today, ends_on=term_end(today), status="applied", source="online", patient_id=patient.id,
        team_id=team.id, package_id=package.id, price_fen=package.price_fen, applicant_account_id=account_id,
        region_code=body["region_code"], community=catalogue.community_name(body["community"]),
        conditions=",".join(sorted(set(body["conditions"]))) or None, applied_at=instant, updated_at=instant)
    try:
        with db.session.begin_nested():
            db.session.add(contract)
            db.session.flush()
    except IntegrityError:  # the same tap twice, or a proxy and the person at once
        raise Conflict("已向该团队提交签约申请，请等待团队审核", code="already_applied") from None
    tell_team(contract, "family.applied")
    return contract


def withdraw(contract, instant=None):
    """The applicant side takes an application back before the team decides."""
    instant = instant or now()
    contract = locked(contract)
    if contract.status != "applied":
        raise invalid_state("该申请已处理，不能撤回")
    contract.status, contract.ended_at, contract.updated_at = "withdrawn", instant, instant
    contract.end_reason = "居民撤回申请"
    return contract


def accept(staff, contract, instant=None):
    """The team accepts: the one-year term starts today; 409 team_full, already_signed, invalid_contract_state."""
    instant = instant or now()
    lock_person(contract.person_index)
    contract = locked(contract)
    if contract.status == "withdrawn" and current(contract.person_index) is not None:
        raise already_signed()  # withdrawn because the person signed elsewhere meanwhile: say so
    if contract.status != "applied":
        raise invalid_state("该申请已处理")
    lock_row(FamilyTeam, contract.team_id, keep_keys=True)  # two accepts of one team count its places in turn
    team = db.session.get(FamilyTeam, contract.team_id)
    if catalogue.remaining(team) <= 0:
        raise Conflict("团队签约人数已达上限，请先调整团队容量", code="team_full")
    today = to_local(instant).date()
    contract.starts_on, contract.ends_on = today, term_end(today)
    contract.decided_at, contract.decided_by = instant, staff.id
    activate(contract, instant)
    tell_family(contract, "family.accepted")
    changed(contract, "applied", instant)
    return contract


def decline(staff, contract, reason, instant=None):
    """The team declines with a reason the family reads."""
    instant = instant or now()
    contract = locked(contract)
    if contract.status != "applied":
        raise invalid_state("该申请已处理")
    contract.status, contract.decline_reason, contract.updated_at = "declined", reason, instant
    contract.decided_at, contract.decided_by = instant, staff.id
    tell_family(contract, "family.declined", reason=reason)
    return contract


def end(contract, reason, instant=None):
    """The person (or a consented proxy) ends a contract in force (解约); its follow-ups stop."""
    instant = instant or now()
    contract = locked(contract)
    if contract.status != "active":
        raise invalid_state("只有生效中的签约可以解约")
    contract.status, contract.ended_at, contract.updated_at = "ended", instant, instant
    contract.end_reason = reason or "居民申请解约"
    end_plans(contract, instant)
    changed(contract, "active", instant)
    return contract


def renewal_opens(contract):
    """The first day the contract may be renewed."""
    return contract.ends_on - timedelta(days=RENEWAL_DAYS)


def renew(contract, account_id, package_id=None, instant=None):
    """Within 30 days of its end, a new one-year term with the same team follows (from today until a year after the
    old end); the old contract becomes `renewed` and the follow-up plans carry over."""
    instant = instant or now()
    contract = locked(contract)
    if contract.status != "active":
        raise invalid_state("只有生效中的签约可以续约")
    today = to_local(instant).date()
    if today < renewal_opens(contract):
        raise Conflict(f"到期前{RENEWAL_DAYS}天内可以续约，请于{renewal_opens(contract):%Y年%m月%d日}后办理",
                       code="renewal_not_open")
    team = db.session.get(FamilyTeam, contract.team_id) if contract.team_id else None
    if team is None or not team.active:
        raise Conflict("该签约需到签约机构办理续约", code="renewal_not_online")
    package = catalogue.team_package(team, package_id or contract.package_id) if (
        package_id or contract.package_id) else None
    patient = patient_of(contract)
    if package is not None:
        eligibility.check(package, patient, (contract.conditions or "").split(",") if contract.conditions else [],
                          instant)
    contract.status, contract.ended_at, contract.updated_at = "renewed", instant, instant
    db.session.flush()
    successor = FamilyDoctorContract(
        person_index=contract.person_index, hospital_id=contract.hospital_id, contract_no=contract_no(instant),
        team=team.name, doctor=contract.doctor, phone=team.phone, package=package.name if package else contract.package,
        starts_on=today, ends_on=term_end(contract.ends_on + timedelta(days=1)), status="applied", source="online",
        patient_id=patient.id if patient else None, team_id=team.id, package_id=package.id if package else None,
        price_fen=package.price_fen if package else contract.price_fen, applicant_account_id=account_id,
        region_code=contract.region_code, community=contract.community, conditions=contract.conditions,
        applied_at=instant, decided_at=instant, renewed_from_id=contract.id, updated_at=instant)
    db.session.add(successor)
    db.session.flush()
    activate(successor, instant)
    db.session.execute(sa.update(FollowUpPlan).where(FollowUpPlan.contract_id == contract.id,
                                                     FollowUpPlan.active.is_(True))
                       .values(contract_id=successor.id).execution_options(synchronize_session=False))
    changed(successor, None, instant)
    return successor
