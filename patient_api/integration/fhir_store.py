"""Storing a mapped bundle with a bounded number of queries: what is unchanged is recognised in bulk, stand-alone
observations are written in bulk, and only new or changed reports and records go through their save function."""
import sqlalchemy as sa

from ..common.digest import content_hash
from ..extensions import db
from ..records.models import Encounter, RecordEntry
from ..records.store import save_encounter, save_entry
from ..results.models import Report
from ..results.store import save_observations, save_reports

CHUNK = 500
REPORT_TYPES = ("DiagnosticReport", "DocumentReference")
SAVERS = {"Encounter": save_encounter, "Condition": save_entry, "AllergyIntolerance": save_entry,
          "Immunization": save_entry}


def store(hospital, plan, instant, counts):
    """Save every (resource type, person index, input) of the plan, counting the outcomes (in the plan's order)."""
    unchanged = _unchanged(hospital, plan)
    keys = [None if resource_type == "Observation" else _key(resource_type, value, person)
            for resource_type, person, value in plan]
    # New and changed reports (and documents) are saved together first: they refer to nothing else stored here.
    reports = [position for position, (resource_type, _, _) in enumerate(plan)
               if resource_type in REPORT_TYPES and keys[position] not in unchanged]
    outcomes = dict(zip(reports, save_reports(hospital, [plan[p][1:] for p in reports], instant,
                                              digests=[keys[p][2] for p in reports]), strict=True))
    observations = []
    for position, (resource_type, person, value) in enumerate(plan):
        if resource_type == "Observation":
            observations.append((resource_type, person, value))
        elif keys[position] in unchanged:  # what save_* would find and skip
            counts.add(resource_type, "skipped")
        elif position in outcomes:
            counts.add(resource_type, outcomes[position])
        else:
            counts.add(resource_type, SAVERS[resource_type](hospital, person, value, instant))
    for outcome in save_observations(hospital, [(person, value) for _, person, value in observations]):
        counts.add("Observation", outcome)


def _key(resource_type, value, person):
    """What identifies an unchanged row: content and person (as save_* decide)."""
    if resource_type in ("DiagnosticReport", "DocumentReference"):
        return "report", value.source_id, content_hash(value), person
    if resource_type == "Encounter":
        return "encounter", value.source_id, content_hash(value), person
    return value.kind, value.source_id, content_hash(value), person


def _unchanged(hospital, plan):
    """Keys of the plan's reports, encounters and record entries already stored with the same content."""
    wanted = {"report": set(), "encounter": set(), "entry": set()}
    for resource_type, _person, value in plan:
        if resource_type in ("DiagnosticReport", "DocumentReference"):
            wanted["report"].add(value.source_id)
        elif resource_type == "Encounter":
            wanted["encounter"].add(value.source_id)
        elif resource_type != "Observation":
            wanted["entry"].add(value.source_id)
    found = set()
    for ids in _chunks(wanted["report"]):
        found.update(("report", *row) for row in db.session.execute(
            sa.select(Report.source_id, Report.content_hash, Report.person_index).where(
                Report.hospital_id == hospital.id, Report.source_id.in_(ids))))
    for ids in _chunks(wanted["encounter"]):
        found.update(("encounter", *row) for row in db.session.execute(
            sa.select(Encounter.source_id, Encounter.content_hash, Encounter.person_index).where(
                Encounter.hospital_id == hospital.id, Encounter.source_id.in_(ids))))
    for ids in _chunks(wanted["entry"]):
        found.update(tuple(row) for row in db.session.execute(
            sa.select(RecordEntry.kind, RecordEntry.source_id, RecordEntry.content_hash, RecordEntry.person_index)
            .where(RecordEntry.hospital_id == hospital.id, RecordEntry.source_id.in_(ids))))
    return found


def _chunks(values):
    values = sorted(values)
    return [values[start:start + CHUNK] for start in range(0, len(values), CHUNK)]
