"""双向转诊 → 家庭医生: a down-referral the clinic accepted becomes a follow-up plan of the patient's signed team.

Only the event's payload is read (family imports nothing of the referral feature): when the patient has a contract
in force with a team known here, that contract gets a plan of the referral's kind and period (an existing plan of
that kind is replaced only when its period differs).
"""
from ..common import audit, events
from ..common.clock import now
from ..extensions import db
from ..records.models import FamilyDoctorContract
from . import contracts, followups


@events.subscribe("referral.down_accepted")
def down_accepted(referral_id, patient_id, followup, instant=None, **_):
    """Set the follow-up the down-referral asks for on the patient's contract in force; None when not signed."""
    if not followup:
        return None
    signed = contracts.signed_team(patient_id)
    if signed is None:
        return None
    contract = contracts.locked(db.session.get(FamilyDoctorContract, signed["contract_id"]))
    plan = followups.add_plan(contract, patient_id, followup["kind"], followup["every_days"],
                              note="转诊随访", created_by=referral_id, instant=instant or now())
    audit.record("system", "referral", "family.followup_from_referral", patient_id=patient_id,
                 resource=contract.id, referral_id=referral_id, plan_id=plan.id, kind=plan.kind,
                 interval_days=plan.interval_days)
    return plan
