"""Teams, packages and contracts as residents and team staff read them: names masked, reads of readings logged."""
import sqlalchemy as sa

from ..common.clock import now, to_local
from ..common.masking import mask_name
from ..common.paging import page
from ..directory.services import hospital_names
from ..extensions import db
from ..records import vitals
from ..records.access import log_read
from ..records.models import FamilyDoctorContract
from . import catalogue, eligibility, followups
from .contracts import patient_of, renewal_opens

CHANNEL = "family_doctor"  # the access log's channel for team staff
STATUS_NAMES = {"applied": "待团队审核", "active": "生效中", "declined": "未通过", "withdrawn": "已撤回",
                "renewed": "已续约", "ended": "已解约", "expired": "已到期", "cancelled": "已撤销"}
KIND_NAMES = {"basic": "基础包", "elderly": "老年人服务包", "chronic": "慢病服务包", "maternal": "孕产妇服务包",
              "child": "儿童服务包", "disabled": "残疾人服务包"}
ROLE_NAMES = {"doctor": "家庭医生", "nurse": "护士", "public_health": "公卫人员"}
ROSTER_SORT = sa.func.coalesce(FamilyDoctorContract.decided_at, FamilyDoctorContract.updated_at)
MAX_OVERDUE = 500


def package_view(package):
    """A package with its rules in words."""
    rules = package.eligibility
    return {"id": package.id, "code": package.code, "kind": package.kind, "kind_name": KIND_NAMES[package.kind],
            "name": package.name, "description": package.description, "items": package.items,
            "price_fen": package.price_fen,
            "eligibility": {**rules, "text": [eligibility.describe(rule) for rule in rules.get("rules", [])]}}


def team_view(team, detail=False):
    """A team: clinic, members, covered 村/社区, places left; with its clinic's packages in `detail`."""
    body = {"id": team.id, "code": team.code, "name": team.name, "hospital_id": team.hospital_id,
            "hospital_name": team.hospital.name, "hospital_address": team.hospital.address, "phone": team.phone,
            "introduction": team.introduction, "capacity": team.capacity, "remaining": catalogue.remaining(team),
            "members": [{"name": m.name, "member_role": m.member_role, "role_name": ROLE_NAMES[m.member_role],
                         "title": m.title, "is_lead": m.is_lead} for m in team.members],
            "areas": [{"region_code": a.region_code, "community": a.community} for a in team.areas]}
    if detail:
        body["packages"] = [package_view(p) for p in catalogue.packages_of(team.hospital_id)]
    return body


def render(contract, instant=None):
    """A contract or application as the family reads it, with its follow-ups while in force."""
    instant = instant or now()
    patient = patient_of(contract)
    active = contract.status == "active"
    today = to_local(instant).date()
    return {
        "id": contract.id, "contract_no": contract.contract_no, "source": contract.source, "status": contract.status,
        "status_name": STATUS_NAMES[contract.status], "patient_id": contract.patient_id,
        "patient_name": mask_name(patient.name) if patient else None, "hospital_id": contract.hospital_id,
        "hospital_name": hospital_names([contract.hospital_id]).get(contract.hospital_id),
        "team_id": contract.team_id, "team_name": contract.team, "doctor": contract.doctor, "phone": contract.phone,
        "package_id": contract.package_id, "package_name": contract.package, "price_fen": contract.price_fen,
        "starts_on": contract.starts_on, "ends_on": contract.ends_on, "applied_at": contract.applied_at,
        "decided_at": contract.decided_at, "decline_reason": contract.decline_reason, "ended_at": contract.ended_at,
        "end_reason": contract.end_reason, "region_code": contract.region_code, "community": contract.community,
        "conditions": contract.conditions.split(",") if contract.conditions else [],
        "renewed_from_id": contract.renewed_from_id,
        "renewal_opens_on": renewal_opens(contract) if active else None,
        "renewable": active and contract.team_id is not None and today >= renewal_opens(contract),
        "follow_ups": [followups.status(plan, instant) for plan in followups.active_plans(contract.id)]
        if active else [],
    }


def readings(patient):
    """The patient's newest upload of each kind."""
    return [{"kind": v.kind, "kind_name": vitals.UNITS[v.kind][3], "systolic": v.systolic, "diastolic": v.diastolic,
             "value": v.value, "unit": v.unit, "context": v.context, "measured_at": v.measured_at}
            for v in vitals.latest(patient)]


def render_for_staff(staff, contract, instant=None):
    """A contract for its team: the family's view plus age, sex, conditions on the record and the latest readings
    (the read is in the patient's access log)."""
    body = render(contract, instant)
    patient = patient_of(contract)
    body.update(gender=None, age=None, conditions_on_record=[], latest_readings=[])
    if patient is not None:
        log_read("staff", staff.id, CHANNEL, patient.id_number_index, "family_contract", contract.id, patient.id)
        body.update(gender=patient.gender, age=eligibility.age_years(patient.birth_date, to_local(instant or now())
                                                                     .date()),
                    conditions_on_record=eligibility.on_record(patient), latest_readings=readings(patient))
    body["overdue"] = any(plan["overdue"] for plan in body["follow_ups"])
    return body


def for_patients(person_indexes, status=None):
    """Contracts and applications of these persons, newest first (a few per person, so not paged)."""
    stmt = sa.select(FamilyDoctorContract).where(FamilyDoctorContract.person_index.in_(person_indexes))
    if status:
        stmt = stmt.where(FamilyDoctorContract.status == status)
    rows = db.session.scalars(stmt.order_by(FamilyDoctorContract.starts_on.desc(),
                                            FamilyDoctorContract.updated_at.desc()).limit(200)).all()
    instant = now()
    return [render(row, instant) for row in rows]


def applications(staff, team, query):
    """The team's applications, oldest first (the queue), of one status (default: waiting)."""
    stmt = sa.select(FamilyDoctorContract).where(FamilyDoctorContract.team_id == team.id,
                                                 FamilyDoctorContract.status == query["status"],
                                                 FamilyDoctorContract.applied_at.is_not(None))
    rows, paging = page(stmt, FamilyDoctorContract.applied_at, FamilyDoctorContract.id, query, ascending=True)
    instant = now()
    return {"items": [render_for_staff(staff, row[0], instant) for row in rows], **paging}


def roster(staff, team, query):
    """The team's signed residents, newest signing first (paged), each with readings and follow-ups."""
    stmt = sa.select(FamilyDoctorContract).where(FamilyDoctorContract.team_id == team.id,
                                                 FamilyDoctorContract.status == "active")
    rows, paging = page(stmt, ROSTER_SORT, FamilyDoctorContract.id, query)
    instant = now()
    return {"items": [render_for_staff(staff, row[0], instant) for row in rows], **paging}


def overdue(staff, team):
    """Every overdue follow-up of the team's signed residents, longest overdue first."""
    instant = now()
    contracts = db.session.scalars(sa.select(FamilyDoctorContract).where(
        FamilyDoctorContract.team_id == team.id, FamilyDoctorContract.status == "active",
        FamilyDoctorContract.id.in_(sa.select(followups.FollowUpPlan.contract_id).where(
            followups.FollowUpPlan.active.is_(True)))).order_by(FamilyDoctorContract.id)).all()
    found = []
    for contract in contracts:
        patient = patient_of(contract)
        late = [plan for plan in (followups.status(p, instant) for p in followups.active_plans(contract.id))
                if plan["overdue"]]
        if late and patient is not None:
            found += [{"contract_id": contract.id, "patient_id": patient.id, "patient_name": mask_name(patient.name),
                       "community": contract.community, **plan} for plan in late]
    found.sort(key=lambda item: (item["overdue_since"], item["contract_id"]))
    return {"items": found[:MAX_OVERDUE]}
