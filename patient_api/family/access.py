"""Who may see and act on a contract: the patient's verified links (the person and consented proxies), and the staff
members of its team. Everyone else — another team of the same clinic, another clinic, another account — gets 404."""
import sqlalchemy as sa

from ..accounts import links
from ..accounts.models import Patient
from ..accounts.staff import Staff
from ..common import audit
from ..common.auth import current_staff_id
from ..errors import NotFound
from ..extensions import db
from ..records.models import FamilyDoctorContract
from .catalogue import team_not_found
from .contracts import patient_of
from .models import FamilyTeam, FamilyTeamMember


def contract_not_found():
    """The same answer for a missing contract and someone else's."""
    return NotFound("未找到该签约记录", code="family_contract_not_found")


def resident_contract(account_id, contract_id):
    """A contract of a patient the account holds a verified link to; 404 otherwise (and 404 once the link ended)."""
    contract = db.session.get(FamilyDoctorContract, contract_id)
    patient = contract and patient_of(contract)
    link = patient and links.link_of(account_id, patient.id)
    if not link or not link.verified:
        raise contract_not_found()
    return contract


def person_indexes(patient_ids):
    """Blind indexes of these patients (contracts are kept by person, pushed ones too)."""
    return db.session.scalars(sa.select(Patient.id_number_index).where(Patient.id.in_(patient_ids))).all()


def current_staff():
    """The signed-in staff member (401 without a live staff session)."""
    return db.session.get(Staff, current_staff_id())


def team_ids(staff):
    """The teams this staff member acts for: those naming them as a member, while their role is family_team."""
    if staff.role != "family_team":
        return []
    return db.session.scalars(sa.select(FamilyTeamMember.team_id).where(FamilyTeamMember.staff_id == staff.id)
                              .order_by(FamilyTeamMember.team_id)).all()


def staff_team(staff, team_id):
    """A team the staff member belongs to; 404 family_team_not_found otherwise."""
    if team_id not in team_ids(staff):
        raise team_not_found()
    return db.session.get(FamilyTeam, team_id)


def staff_contract(staff, contract_id):
    """A contract or application of one of the staff member's teams; 404 otherwise, and the refused look audited."""
    contract = db.session.get(FamilyDoctorContract, contract_id)
    if contract is None:
        raise contract_not_found()
    if contract.team_id is None or contract.team_id not in team_ids(staff):
        audit.record("staff", staff.id, "family.access_denied", patient_id=contract.patient_id, resource=contract.id)
        db.session.commit()  # the refused look stays on record although the answer rolls back; nothing else written
        raise contract_not_found()
    return contract


def audited(staff, action, contract, **detail):
    """Record a team member's action on a contract."""
    return audit.record("staff", staff.id, action, patient_id=contract.patient_id, resource=contract.id, **detail)
