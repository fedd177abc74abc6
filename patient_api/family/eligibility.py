"""Who may sign a package: structured rules checked against the patient's age, sex and conditions.

A package's rules are {"match": "any" | "all", "rules": [...]}; no rules means everyone (the free 基础包). A rule is
- {"kind": "age_at_least_years", "years": N} / {"kind": "age_at_most_years", "years": N} (from the ID's birth date);
- {"kind": "sex", "sex": "female" | "male"};
- {"kind": "condition", "conditions": [...]}: any of them, on the health record (a hospital's diagnosis) or declared
  by the applicant — the team checks a declared one before accepting.
"""
import sqlalchemy as sa

from ..common.clock import to_local
from ..errors import Invalid
from ..extensions import db
from ..records.models import RecordEntry

# condition → (who has it, as residents read it; ICD-10 code prefixes and words that find it on the record)
CONDITIONS = {
    "hypertension": ("高血压患者", ("I10", "I11", "I12", "I13", "I15"), ("高血压",)),
    "diabetes": ("糖尿病患者", ("E10", "E11", "E12", "E13", "E14"), ("糖尿病",)),
    "pregnancy": ("孕产妇", ("Z32.1", "Z33", "Z34", "Z35", "Z39"), ("妊娠", "孕")),
    "disability": ("持证残疾人", (), ("残疾",)),
}
RULE_KINDS = {"age_at_least_years": "years", "age_at_most_years": "years", "sex": "sex", "condition": "conditions"}
SEXES = {"female": "女性", "male": "男性"}


def describe(rule):
    """The rule as a resident reads it."""
    kind = rule["kind"]
    if kind == "age_at_least_years":
        return f"年满{rule['years']}周岁的居民"
    if kind == "age_at_most_years":
        return f"{rule['years']}周岁及以下的儿童"
    if kind == "sex":
        return SEXES[rule["sex"]]
    return "或".join(CONDITIONS[c][0] for c in rule["conditions"])


def age_years(birth, day):
    """Whole years of age on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def on_record(patient):
    """The conditions (keys of CONDITIONS) a hospital's diagnosis on the patient's record shows."""
    rows = db.session.execute(sa.select(RecordEntry.code, RecordEntry.display).where(
        RecordEntry.person_index == patient.id_number_index, RecordEntry.kind == "condition")).all()
    found = set()
    for code, display in rows:
        for key, (_label, prefixes, words) in CONDITIONS.items():
            if (code and code.upper().startswith(prefixes)) or any(word in (display or "") for word in words):
                found.add(key)
    return sorted(found)


def holds(rule, patient, conditions, instant):
    """Whether one rule holds for the patient now; `conditions`: declared plus on-record ones."""
    kind, day = rule["kind"], to_local(instant).date()
    if kind == "age_at_least_years":
        return age_years(patient.birth_date, day) >= rule["years"]
    if kind == "age_at_most_years":
        return age_years(patient.birth_date, day) <= rule["years"]
    if kind == "sex":
        return patient.gender == rule["sex"]
    return bool(set(rule["conditions"]) & set(conditions))


def check(package, patient, declared, instant):
    """422 not_eligible naming who the package is for, unless the patient meets its rules."""
    eligibility = package.eligibility
    rules = eligibility.get("rules") or []
    if not rules:
        return
    known = set(declared) | set(on_record(patient))
    match = eligibility.get("match", "any")
    results = [holds(rule, patient, known, instant) for rule in rules]
    if any(results) if match == "any" else all(results):
        return
    joiner, tail = ("、", "（满足其一即可）" if len(rules) > 1 else "") if match == "any" else ("，且", "")
    raise Invalid(f"“{package.name}”仅面向{joiner.join(describe(rule) for rule in rules)}{tail}，"
                  "该就诊人暂不符合签约条件，可选择基础包", code="not_eligible",
                  errors={"package_id": ["不符合签约条件"]})
