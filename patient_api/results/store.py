"""Storing reports idempotently: same content → skipped, new content → the report is replaced and the old
version kept; every report that becomes visible tells the patient's accounts through the outbox."""
import json

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..accounts.models import Patient
from ..accounts.notices import tell_accounts
from ..common.clock import now
from ..common.digest import content_hash
from ..common.locking import lock_row
from ..directory.levels import level_rank
from ..extensions import db
from . import rules
from .models import Observation, Report, ReportVersion

REPORT_FIELDS = ("source_format", "kind", "title", "code", "category", "status", "department", "performer",
                 "encounter_source_id", "effective_at", "issued_at", "findings", "impression", "body", "sensitive")


def save_report(hospital, person_index, report_in, instant=None):
    """Create or replace one report; returns "created", "updated" or "skipped"."""
    instant = instant or now()
    digest = content_hash(report_in)
    existing = _find(hospital.id, report_in.source_id)
    if existing is None:
        report = Report(hospital_id=hospital.id, person_index=person_index, source_id=report_in.source_id,
                        content_hash=digest, created_at=instant, updated_at=instant)
        _apply(report, report_in, hospital)
        try:
            with db.session.begin_nested():
                db.session.add(report)
                db.session.flush()
        except IntegrityError:  # the same report from a parallel delivery: treat it as already there
            existing = _find(hospital.id, report_in.source_id)
        else:
            _store_items(hospital, person_index, report, report_in.items)
            _announce(report, instant)
            return "created"
    lock_row(Report, existing.id)
    db.session.refresh(existing)
    if existing.content_hash == digest and existing.person_index == person_index:
        return "skipped"  # a re-send; the same content for another person is HIS correcting the subject
    was_visible = rules.visible(existing, instant)
    db.session.add(ReportVersion(report_id=existing.id, version=existing.version, status=existing.status,
                                 snapshot=json.dumps(snapshot(existing), ensure_ascii=False, default=str),
                                 replaced_at=instant))
    _apply(existing, report_in, hospital)
    existing.person_index, existing.content_hash, existing.updated_at = person_index, digest, instant
    existing.version += 1
    _store_items(hospital, person_index, existing, report_in.items)
    if not was_visible or report_in.status in ("amended", "corrected"):
        _announce(existing, instant, event="report.amended" if was_visible else "report.ready")
    return "updated"


def _find(hospital_id, source_id):
    return db.session.scalars(sa.select(Report).filter_by(hospital_id=hospital_id, source_id=source_id)).first()


def _apply(report, report_in, hospital):
    for name in REPORT_FIELDS:
        setattr(report, name, getattr(report_in, name))
    report.sensitive = rules.sensitive_report(report_in)
    report.mutually_recognised = rules.recognised(report_in, level_rank(hospital.level))


def _store_items(hospital, person_index, report, items):
    """The report's results become exactly `items` (an amended report may drop or change some)."""
    keep = {item.source_id for item in items}
    db.session.execute(sa.delete(Observation).where(Observation.report_id == report.id,
                                                    Observation.source_id.not_in(keep) if keep else sa.true()))
    stored = {o.source_id: o for o in db.session.scalars(sa.select(Observation).where(
        Observation.hospital_id == hospital.id, Observation.source_id.in_(keep)))} if keep else {}
    rows = []
    for position, item in enumerate(items):
        row = stored.get(item.source_id) or Observation(hospital_id=hospital.id, source_id=item.source_id)
        row.person_index, row.report_id, row.position = person_index, report.id, position
        _fill_observation(row, item)
        db.session.add(row)
        rows.append(row)
    # Kept on the report so a list of reports never loads their results (see results.queries.summary).
    report.abnormal_count = sum(1 for row in rows if row.flag not in (None, "N"))
    report.critical = any(row.critical for row in rows)
    db.session.flush()


def _fill_observation(row, item):
    for name in ("code", "code_system", "name", "value", "value_num", "unit", "ref_low", "ref_high",
                 "reference_range", "status", "observed_at"):
        setattr(row, name, getattr(item, name))
    row.flag = rules.flag_of(item.flag, item.value_num, item.ref_low, item.ref_high)
    row.sensitive = bool(item.sensitive or rules.sensitive_code(item.code))
    row.critical = row.flag in rules.CRITICAL


def save_observation(hospital, person_index, item):
    """A stand-alone observation (vital signs at a visit); returns "created", "updated" or "skipped"."""
    row = db.session.scalars(sa.select(Observation).filter_by(hospital_id=hospital.id,
                                                              source_id=item.source_id)).first()
    if row is not None:
        before = snapshot_item(row)
        _fill_observation(row, item)
        row.person_index = person_index
        return "skipped" if snapshot_item(row) == before else "updated"
    row = Observation(hospital_id=hospital.id, source_id=item.source_id, person_index=person_index,
                      received_at=now())
    _fill_observation(row, item)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return "skipped"
    return "created"


def release(report, instant=None):
    """A clinician releases a held (sensitive) report: it shows now, and the patient is told."""
    if report.released_at is None:
        report.released_at = instant or now()
        _announce(report, report.released_at)
    return report


def _announce(report, instant, event="report.ready"):
    """report.ready (or report.amended) to every account linked to the patient, once the report is visible."""
    if not rules.visible(report, instant):
        return
    for patient_id in db.session.scalars(sa.select(Patient.id).filter_by(id_number_index=report.person_index)).all():
        tell_accounts(patient_id, event, {
            "report_id": report.id, "kind": report.kind, "title": report.title, "status": report.status})


def snapshot_item(row):
    """An observation's content as a dict (for version history and change detection)."""
    return {name: getattr(row, name) for name in ("code", "name", "value", "value_num", "unit", "ref_low", "ref_high",
                                                  "reference_range", "flag", "status", "observed_at")}


def snapshot(report):
    """A report and its items as they are now (what report_versions keeps)."""
    return {**{name: getattr(report, name) for name in REPORT_FIELDS}, "version": report.version,
            "items": [snapshot_item(item) for item in report.items]}


def save_observations(hospital, pairs, chunk=500):
    """Stand-alone observations in bulk, [(person_index, item)] → outcomes in order: one query per `chunk`
    finds the stored rows and new ones are inserted together, instead of a lookup and an insert each."""
    pairs = list(pairs)
    source_ids = sorted({item.source_id for _, item in pairs})
    stored = {}
    for start in range(0, len(source_ids), chunk):
        stored.update((row.source_id, row) for row in db.session.scalars(sa.select(Observation).where(
            Observation.hospital_id == hospital.id, Observation.source_id.in_(source_ids[start:start + chunk]))))
    outcomes, fresh = [], {}
    for position, (person_index, item) in enumerate(pairs):
        row = stored.get(item.source_id)
        if row is None:
            row = stored[item.source_id] = Observation(hospital_id=hospital.id, source_id=item.source_id)
            fresh[position] = row
            before = None
        else:
            before = snapshot_item(row)
        _fill_observation(row, item)
        row.person_index = person_index
        outcomes.append("created" if before is None else "skipped" if snapshot_item(row) == before else "updated")
    if not fresh:
        return outcomes
    try:
        with db.session.begin_nested():
            db.session.add_all(fresh.values())
    except IntegrityError:  # a parallel delivery stored some first: those go the careful way, one by one
        for position in fresh:
            outcomes[position] = save_observation(hospital, *pairs[position])
    return outcomes
