"""家庭医生签约 for residents: find the teams covering an address (no sign-in), apply for a package for a patient on
a verified link (the person or a consented proxy), follow, withdraw, renew and end the contract."""
from flask.views import MethodView

from ..accounts.links import clinical_patients
from ..common.auth import BEARER_DOC, current_account_id, resident_required
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from . import catalogue, contracts, views
from .access import person_indexes, resident_contract
from .schemas import (
    FamilyApplyIn,
    FamilyContractList,
    FamilyContractOut,
    FamilyContractQuery,
    FamilyEndIn,
    FamilyRenewIn,
    FamilyTeamList,
    FamilyTeamOut,
    FamilyTeamQuery,
)

blp = Blueprint("family", __name__, description="家庭医生签约: family-doctor teams and signing online")


@blp.route("/family/teams")
class Teams(MethodView):
    @blp.arguments(FamilyTeamQuery(), location="query")
    @blp.response(200, FamilyTeamList)
    def get(self, query):
        """Teams covering a district/county code (and its 村/社区 when given): clinic, members, areas, places left."""
        return {"items": [views.team_view(team) for team in
                          catalogue.covering(query["region_code"], query.get("community"))]}


@blp.route("/family/teams/<id:team_id>")
class Team(MethodView):
    @blp.response(200, FamilyTeamOut)
    def get(self, team_id):
        """One team with its clinic's packages (content, price, who may sign); 404 family_team_not_found."""
        return views.team_view(catalogue.published_team(team_id), detail=True)


@blp.route("/me/family/contracts")
class Contracts(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(FamilyContractQuery(), location="query")
    @blp.response(200, FamilyContractList)
    def get(self, query):
        """Contracts and applications of one patient (or every verified one), newest first, pushed ones too; the
        active one carries its follow-ups. 403 verification_required, 404 patient_not_found."""
        patients = clinical_patients(current_account_id(), query.get("patient_id"))
        return {"items": views.for_patients(person_indexes(patients), query.get("status"))}

    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(FamilyApplyIn())
    @blp.response(201, FamilyContractOut)
    def post(self, body):
        """Apply for a package with a team covering the address (`applied` until the team decides). Refusals:
        403 verification_required; 404 patient_not_found, family_team_not_found, family_package_not_found;
        422 area_not_covered, not_eligible (names who the package is for); 409 already_signed (a contract in force,
        pushed or online), already_applied (an open application to this team), team_full."""
        return views.render(contracts.apply(current_account_id(), body))


@blp.route("/me/family/contracts/<id:contract_id>")
class Contract(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, FamilyContractOut)
    def get(self, contract_id):
        """One contract or application of a patient on a verified link (404 family_contract_not_found otherwise)."""
        return views.render(resident_contract(current_account_id(), contract_id))


@blp.route("/me/family/contracts/<id:contract_id>/withdraw")
class Withdraw(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, FamilyContractOut)
    def post(self, contract_id):
        """Take an application back before the team decides (409 invalid_contract_state after)."""
        return views.render(contracts.withdraw(resident_contract(current_account_id(), contract_id)))


@blp.route("/me/family/contracts/<id:contract_id>/renew")
class Renew(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(FamilyRenewIn())
    @blp.response(201, FamilyContractOut)
    def post(self, body, contract_id):
        """Renew within 30 days of the end (409 renewal_not_open before, with the date it opens): a new one-year term
        with the same team, the old contract `renewed`, follow-ups carried over. 409 renewal_not_online for a
        centre's contract naming no team known here; 422 not_eligible for a package the patient no longer fits."""
        account_id = current_account_id()
        contract = resident_contract(account_id, contract_id)
        return views.render(contracts.renew(contract, account_id, body.get("package_id")))


@blp.route("/me/family/contracts/<id:contract_id>/end")
class End(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.arguments(FamilyEndIn())
    @blp.response(200, FamilyContractOut)
    def post(self, body, contract_id):
        """End a contract in force (解约); follow-ups stop; 409 invalid_contract_state otherwise."""
        return views.render(contracts.end(resident_contract(current_account_id(), contract_id), body["reason"]))
