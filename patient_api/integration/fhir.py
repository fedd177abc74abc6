"""FHIR R4 Bundle ingest: validate every entry and resolve every subject first, then store.

Nothing is stored when anything is wrong: problems are collected with their paths and raised before
the first write (and the request is one transaction anyway). Re-sending a bundle stores nothing new
because every resource is keyed by a stable source id: a business identifier (system|value), else
Type/id, else the entry's fullUrl.
"""
from ..accounts import people
from ..accounts.identity import parse_resident_id
from ..common import audit
from ..common.clock import now
from . import fhir_observations, fhir_parse, fhir_records, fhir_results, fhir_store
from .fhir_errors import Problems
from .fhir_subjects import BundleIndex, Subjects
from .fhir_values import OutOfRange, fit, identifier_key

SUPPORTED = ("Patient", "Encounter", "DiagnosticReport", "Observation", "Condition", "AllergyIntolerance",
             "Immunization", "DocumentReference")
# Mappers of the resources stored on their own (a report's result Observations are stored with the report,
# and counted as part of it).
MAPPERS = {
    "Observation": lambda entry, index, problems: fhir_observations.observation(entry.resource, entry.source_id),
    "Encounter": lambda entry, index, problems: fhir_records.encounter(entry),
    "Condition": lambda entry, index, problems: fhir_records.condition(entry),
    "AllergyIntolerance": lambda entry, index, problems: fhir_records.allergy(entry),
    "Immunization": lambda entry, index, problems: fhir_records.immunization(entry),
    "DocumentReference": fhir_records.document,
}


def ingest(hospital, raw, instant=None):
    """Store a Bundle's resources for the hospital; returns {"created", "updated", "skipped", "ignored", "by_type"}."""
    instant = instant or now()
    problems = Problems()
    body = [raw]
    del raw  # read() takes the only reference: the body (up to 20 MB) is freed once decoded
    entries = fhir_parse.read(body, problems)
    supported = [entry for entry in entries if entry.type in SUPPORTED]
    index = BundleIndex(entries)  # ignored types too: a Practitioner in the bundle names a report's performer
    for entry in supported:
        if entry.type != "Patient":
            entry.source_id = _source_id(entry, problems)
    subjects = Subjects(hospital, index, supported, problems)
    patients = [subjects.learn_patient(entry) for entry in supported if entry.type == "Patient"]
    plan = _plan(supported, index, subjects, problems)
    problems.raise_if_any()

    counts = Counts(ignored=len(entries) - len(supported))
    subjects.save_links()
    for entry in supported:
        if entry.type == "Patient" and entry.person is not None:
            _learn_person(hospital, entry, instant)
    for linked in patients:
        counts.add("Patient", "created" if linked else "skipped")
    fhir_store.store(hospital, plan, instant, counts)
    result = counts.result()
    audit.record("hospital", hospital.id, "fhir.ingest", entries=len(entries),
                 **{key: result[key] for key in ("created", "updated", "skipped", "ignored")})
    return result


def _learn_person(hospital, entry, instant):
    """What the hospital's Patient says about the person: mobiles on file (for 实名认证) and the legal name (the
    patient is registered from it when the resident has not added themselves yet)."""
    for telecom in entry.resource.telecom or []:
        if telecom.system in (None, "phone", "sms") and telecom.value:
            people.record_phone(entry.person, telecom.value, "fhir", hospital.id, instant)
    name = next(iter(entry.resource.name or []), None)
    text = name and (name.text or ((name.family or "") + "".join(name.given or []))).strip()[:50]
    if text and getattr(entry, "id_number", None):
        people.from_hospital(parse_resident_id(entry.id_number), text)
    elif text and people.patient_by_index(entry.person):
        people.adopt_name(people.patient_by_index(entry.person), text, "hospital")


def _source_id(entry, problems):
    """The stable key re-sends are recognised by; Observation rows have room for a longer one."""
    r = entry.resource
    identifiers = [getattr(r, "masterIdentifier", None), *(getattr(r, "identifier", None) or [])]
    key = identifier_key(identifiers) or (r.id and f"{entry.type}/{r.id}") or entry.full_url
    if not key:
        problems.add(f"{entry.path}.identifier", "需要 identifier、id 或 fullUrl 作为来源编号")
        return None
    return fit(key, 160 if entry.type == "Observation" else 128)


def _plan(entries, index, subjects, problems):
    """(resource type, person index, input) for everything to store, reports first."""
    plan, report_items = [], set()
    for entry in entries:
        if entry.type == "DiagnosticReport":
            report_in, used = _mapped(_report, entry, index, problems) or (None, ())
            report_items.update(used)
            plan.append(("DiagnosticReport", subjects.person_of(entry), report_in))
    for entry in entries:
        if entry.type in MAPPERS and entry not in report_items:
            plan.append((entry.type, subjects.person_of(entry), _mapped(MAPPERS[entry.type], entry, index, problems)))
    return plan


def _report(entry, index, problems):
    """A DiagnosticReport with its results, and the bundle entries those results came from."""
    items, used = fhir_results.report_items(entry, index)
    return fhir_results.report(entry, items, index, problems), used


def _mapped(mapper, entry, index, problems):
    """The mapper's result, or None after recording a time that cannot be stored (nothing is saved then)."""
    try:
        return mapper(entry, index, problems)
    except OutOfRange as err:
        problems.add(entry.path, f"时间超出可保存的范围: {err}")
        return None


class Counts:
    """Outcomes of save_* ("created", "updated", "skipped") in total and by resource type."""

    def __init__(self, ignored):
        self.totals = {"created": 0, "updated": 0, "skipped": 0}
        self.by_type, self.ignored = {}, ignored

    def add(self, resource_type, outcome):
        """Count one stored resource."""
        self.totals[outcome] += 1
        counts = self.by_type.setdefault(resource_type, {"created": 0, "updated": 0, "skipped": 0})
        counts[outcome] += 1

    def result(self):
        """The response body."""
        return {**self.totals, "ignored": self.ignored, "by_type": self.by_type}
