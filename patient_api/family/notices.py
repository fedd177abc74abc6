"""Who hears what about a contract: the family through accounts.notices, the team's staff through the outbox.

Staff messages go on the `staff_message` channel (destination: the staff id), as home care's do; the team's screen
also polls its applications queue, so nothing depends on a push reaching them.
"""
import sqlalchemy as sa

from ..accounts.notices import tell_accounts
from ..common import outbox
from ..extensions import db
from .models import FamilyTeamMember

STAFF_CHANNEL = "staff_message"


def tell_family(contract, event, **payload):
    """`event` to the patient's verified accounts and the account that applied (ids only); 0 when the person has not
    registered here (a pushed contract)."""
    if contract.patient_id is None:
        return 0
    return tell_accounts(contract.patient_id, event, {"family_contract_id": contract.id, **payload},
                         booker=contract.applicant_account_id)


def team_staff(team_id):
    """Staff ids of the team's members who sign in."""
    return db.session.scalars(sa.select(FamilyTeamMember.staff_id).where(
        FamilyTeamMember.team_id == team_id, FamilyTeamMember.staff_id.is_not(None))
        .order_by(FamilyTeamMember.id)).all()


def tell_team(contract, event, **payload):
    """`event` to every signed-in member of the contract's team; returns how many."""
    staff_ids = team_staff(contract.team_id) if contract.team_id else []
    for staff_id in staff_ids:
        outbox.enqueue(STAFF_CHANNEL, staff_id, event, {"family_contract_id": contract.id, **payload})
    return len(staff_ids)
