"""Who a service may be given to: structured rules, checked against what the city knows about the patient.

A service's rules are {"match": "any" | "all", "rules": [...]}; no rules means everyone. Each rule is one of
- {"kind": "bed_bound"}: the requester says the patient is bed-bound (the nurse sees it on arrival);
- {"kind": "discharged_within_days", "days": N}: a stay of the patient, at any hospital, ended within N days;
- {"kind": "age_at_least_years", "years": N}: N years or older (from the ID number's birth date);
- {"kind": "age_at_most_days", "days": N}: a newborn, at most N days old.
"""
from datetime import timedelta

import sqlalchemy as sa

from ..common.clock import to_local
from ..errors import Invalid
from ..extensions import db
from ..inpatient.models import Admission

RULE_KINDS = {"bed_bound": None, "discharged_within_days": "days", "age_at_least_years": "years",
              "age_at_most_days": "days"}


def describe(rule):
    """The rule as a resident reads it."""
    kind = rule["kind"]
    if kind == "bed_bound":
        return "长期卧床或行动不便的患者"
    if kind == "discharged_within_days":
        return f"{rule['days']}天内出院的患者"
    if kind == "age_at_least_years":
        return f"年满{rule['years']}周岁的老人"
    return f"出生{rule['days']}天内的新生儿"


def _age_years(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _discharged_since(patient_id, since, instant):
    """True when a stay of the patient ended (discharge order or settlement) between `since` and `instant`."""
    ended = sa.func.coalesce(Admission.discharge_at, Admission.settled_at)
    return db.session.scalar(sa.select(sa.func.count()).select_from(Admission).where(
        Admission.patient_id == patient_id, ended >= since, ended <= instant)) > 0


def holds(rule, patient, mobility, instant):
    """Whether one rule holds for the patient now."""
    kind, day = rule["kind"], to_local(instant).date()
    if kind == "bed_bound":
        return mobility == "bed_bound"
    if kind == "discharged_within_days":
        return _discharged_since(patient.id, instant - timedelta(days=rule["days"]), instant)
    if kind == "age_at_least_years":
        return _age_years(patient.birth_date, day) >= rule["years"]
    return 0 <= (day - patient.birth_date).days <= rule["days"]


def check(service, patient, mobility, instant):
    """422 not_eligible naming who the service is for, unless the patient meets its rules."""
    eligibility = service.eligibility
    rules = eligibility.get("rules") or []
    if not rules:
        return
    results = [holds(rule, patient, mobility, instant) for rule in rules]
    if any(results) if eligibility.get("match", "any") == "any" else all(results):
        return
    joiner, tail = ("、", "（满足其一即可）") if eligibility.get("match", "any") == "any" else ("，且", "")
    raise Invalid(f"该服务仅面向{joiner.join(describe(rule) for rule in rules)}{tail}，该就诊人暂不符合服务条件",
                  code="not_eligible")
