"""家庭医生签约 for team staff (role family_team): the applications queue, accept / decline, the roster of signed
residents with their latest readings, follow-up plans and overdue follow-ups. Another team's (or clinic's) team or
contract is a plain 404."""
from flask.views import MethodView

from ..common.auth import BEARER_DOC, current_staff_id
from ..common.blueprint import Blueprint
from ..common.clock import now
from ..common.paging import PageQuery
from . import contracts, followups, views
from .access import audited, current_staff, staff_contract, staff_team, team_ids
from .schemas import (
    FamilyDeclineIn,
    FamilyOverdueList,
    FamilyPlanList,
    FamilyPlansIn,
    FamilyQueueQuery,
    FamilyStaffContractOut,
    FamilyStaffContractPage,
    FamilyStaffTeamList,
)

blp = Blueprint("family_staff", __name__, description="家庭医生签约 for team staff: applications, roster, follow-ups")


@blp.before_request
def _signed_in():
    """A staff session before anything else: without one the answer is 401, never a 422 about the body."""
    current_staff_id()


@blp.route("/staff/family/teams")
class Teams(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, FamilyStaffTeamList)
    def get(self):
        """The teams the signed-in member works in (none for other roles)."""
        staff = current_staff()
        return {"items": [views.team_view(staff_team(staff, team_id)) for team_id in team_ids(staff)]}


@blp.route("/staff/family/teams/<id:team_id>/applications")
class Applications(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(FamilyQueueQuery(), location="query")
    @blp.response(200, FamilyStaffContractPage)
    def get(self, query, team_id):
        """The team's applications, oldest first (paged): `status` applied (default), declined or withdrawn."""
        staff = current_staff()
        return views.applications(staff, staff_team(staff, team_id), query)


@blp.route("/staff/family/teams/<id:team_id>/roster")
class Roster(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(PageQuery(), location="query")
    @blp.response(200, FamilyStaffContractPage)
    def get(self, query, team_id):
        """The team's signed residents (newest signing first, paged) with latest readings and follow-ups, each marked
        overdue or not; every resident shown is a read in their access log."""
        staff = current_staff()
        return views.roster(staff, staff_team(staff, team_id), query)


@blp.route("/staff/family/teams/<id:team_id>/overdue-follow-ups")
class Overdue(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, FamilyOverdueList)
    def get(self, team_id):
        """Every overdue follow-up of the team's signed residents, longest overdue first."""
        staff = current_staff()
        return views.overdue(staff, staff_team(staff, team_id))


@blp.route("/staff/family/contracts/<id:contract_id>")
class Contract(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, FamilyStaffContractOut)
    def get(self, contract_id):
        """One contract or application of the member's team: age, sex, conditions declared and on record, latest
        readings, follow-ups (access-logged)."""
        staff = current_staff()
        return views.render_for_staff(staff, staff_contract(staff, contract_id))


@blp.route("/staff/family/contracts/<id:contract_id>/accept")
class Accept(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.response(200, FamilyStaffContractOut)
    def post(self, contract_id):
        """Accept an application: the one-year term starts today. 409 already_signed (the person signed elsewhere
        meanwhile), team_full, invalid_contract_state (already decided)."""
        staff = current_staff()
        contract = contracts.accept(staff, staff_contract(staff, contract_id))
        audited(staff, "family.accept", contract)
        return views.render_for_staff(staff, contract)


@blp.route("/staff/family/contracts/<id:contract_id>/decline")
class Decline(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(FamilyDeclineIn())
    @blp.response(200, FamilyStaffContractOut)
    def post(self, body, contract_id):
        """Decline an application with a reason the family reads (409 invalid_contract_state once decided)."""
        staff = current_staff()
        contract = contracts.decline(staff, staff_contract(staff, contract_id), body["reason"])
        audited(staff, "family.decline", contract)
        return views.render_for_staff(staff, contract)


@blp.route("/staff/family/contracts/<id:contract_id>/follow-up-plans")
class Plans(MethodView):
    @blp.doc(**BEARER_DOC)
    @blp.arguments(FamilyPlansIn())
    @blp.response(200, FamilyPlanList)
    def put(self, body, contract_id):
        """Set the contract's follow-ups (e.g. blood pressure every 30 days), replacing the present ones; the family
        is reminded once per period without a reading. 409 invalid_contract_state unless in force,
        patient_not_registered for a pushed contract of someone not registered here."""
        staff = current_staff()
        contract = contracts.locked(staff_contract(staff, contract_id))
        plans = followups.set_plans(staff, contract, body["plans"])
        instant = now()
        return {"items": [followups.status(plan, instant) for plan in plans]}
