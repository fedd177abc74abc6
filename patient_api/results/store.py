"""Storing reports idempotently: same content → skipped, new content → the report is replaced and the old
version kept; every report that becomes visible tells the patient's accounts through the outbox."""
import json

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..accounts import links
from ..accounts.models import Patient, PatientLink
from ..accounts.notices import tell_accounts
from ..common.clock import now
from ..common.digest import content_hash
from ..common.ids import new_id
from ..common.locking import lock_row
from ..directory.levels import level_rank
from ..extensions import db
from . import rules
from .models import Observation, Report, ReportVersion

REPORT_FIELDS = ("source_format", "kind", "title", "code", "category", "status", "department", "performer",
                 "encounter_source_id", "effective_at", "issued_at", "findings", "impression", "body", "sensitive")
OBSERVATION_FIELDS = ("code", "code_system", "name", "value", "value_num", "unit", "ref_low", "ref_high",
                      "reference_range", "status", "observed_at")
CHUNK = 500  # keeps IN (...) lists well under every database's parameter limit


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
    for name, value in _observation_values(item).items():
        setattr(row, name, value)


def _observation_values(item):
    """An observation's stored columns from its input: as sent, with the flag, hold and 危急值 mark decided here."""
    values = {name: getattr(item, name) for name in OBSERVATION_FIELDS}
    values["flag"] = rules.flag_of(item.flag, item.value_num, item.ref_low, item.ref_high)
    values["sensitive"] = bool(item.sensitive or rules.sensitive_code(item.code))
    values["critical"] = values["flag"] in rules.CRITICAL
    return values


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


def _announce(report, instant, event="report.ready", patient_ids=None, verified=None):
    """report.ready (or report.amended) to every account linked to the patient, once the report is visible;
    `patient_ids` are the person's patients, and `verified` their verified accounts by patient, when the caller
    looked them up already."""
    if not rules.visible(report, instant):
        return
    if patient_ids is None:
        patient_ids = db.session.scalars(sa.select(Patient.id).filter_by(id_number_index=report.person_index)).all()
    for patient_id in patient_ids:
        tell_accounts(patient_id, event, {
            "report_id": report.id, "kind": report.kind, "title": report.title, "status": report.status},
            verified=None if verified is None else verified[patient_id])


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


def save_reports(hospital, pairs, instant=None, digests=None):
    """Reports in bulk, [(person_index, report_in)] → outcomes in order ("created", "updated", "skipped"), as
    save_report one by one would answer. New reports and their results are inserted together (a few statements
    per 500 reports instead of about ten per report); a report already stored, one whose result ids are taken,
    or a repeat within the batch goes through save_report. `digests` are content_hash of each input when the
    caller computed them already."""
    instant = instant or now()
    pairs = list(pairs)
    digests = digests or [content_hash(report_in) for _, report_in in pairs]
    taken_reports = _existing(Report, hospital, {report_in.source_id for _, report_in in pairs})
    taken_items = _existing(Observation, hospital, {item.source_id for _, report_in in pairs
                                                    for item in report_in.items})
    outcomes, fresh, seen = [None] * len(pairs), [], set()
    for position, (_person, report_in) in enumerate(pairs):
        item_ids = [item.source_id for item in report_in.items]
        ids = {report_in.source_id, *(("item", source_id) for source_id in item_ids)}
        if (report_in.source_id in taken_reports or taken_items.intersection(item_ids) or ids & seen
                or len(set(item_ids)) != len(item_ids)):
            continue
        seen |= ids
        fresh.append(position)
    if fresh:
        try:
            with db.session.begin_nested():
                created = _insert_reports(hospital, [(*pairs[p], digests[p]) for p in fresh], instant)
        except IntegrityError:  # a parallel delivery stored some first: every one goes the careful way
            fresh = []
        else:
            for position in fresh:
                outcomes[position] = "created"
            _announce_all(created, instant)
    for position, (person, report_in) in enumerate(pairs):
        if outcomes[position] is None:
            outcomes[position] = save_report(hospital, person, report_in, instant)
    return outcomes


def _existing(model, hospital, source_ids):
    """Which of these source ids the hospital already stored as `model` rows."""
    source_ids, found = sorted(source_ids), set()
    for start in range(0, len(source_ids), CHUNK):
        found.update(db.session.scalars(sa.select(model.source_id).where(
            model.hospital_id == hospital.id, model.source_id.in_(source_ids[start:start + CHUNK]))))
    return found


def _insert_reports(hospital, triples, instant):
    """INSERT new reports and their results as plain rows, [(person_index, report_in, digest)]; returns the reports
    (transient objects carrying the stored values, for the announcements). Rows are built CHUNK reports at a time,
    so a big bundle never holds them all."""
    level, reports = level_rank(hospital.level), []
    for start in range(0, len(triples), CHUNK):
        report_rows, item_rows = [], []
        for person_index, report_in, digest in triples[start:start + CHUNK]:
            report = Report(id=new_id("rpt"), hospital_id=hospital.id, person_index=person_index,
                            source_id=report_in.source_id, content_hash=digest, created_at=instant,
                            updated_at=instant, released_at=None, version=1)
            for name in REPORT_FIELDS:
                setattr(report, name, getattr(report_in, name))
            report.sensitive = rules.sensitive_report(report_in)
            report.mutually_recognised = rules.recognised(report_in, level)
            items = [{**_observation_values(item), "hospital_id": hospital.id, "source_id": item.source_id,
                      "person_index": person_index, "report_id": report.id, "position": position,
                      "received_at": None} for position, item in enumerate(report_in.items)]
            report.abnormal_count = sum(1 for row in items if row["flag"] not in (None, "N"))
            report.critical = any(row["critical"] for row in items)
            reports.append(report)
            report_rows.append({column.key: getattr(report, column.key) for column in Report.__table__.columns})
            item_rows.extend(items)
        db.session.execute(sa.insert(Report.__table__), report_rows)
        if item_rows:
            db.session.execute(sa.insert(Observation.__table__), item_rows)
    return reports


def _announce_all(reports, instant):
    """_announce for many new reports, with one query for the patients whose accounts may hear of them (only a
    patient with a verified link has anyone to tell: accounts.links.verified_accounts)."""
    visible = [report for report in reports if rules.visible(report, instant)]
    indexes, heard = sorted({report.person_index for report in visible}), {}
    for start in range(0, len(indexes), CHUNK):
        for patient_id, person_index in db.session.execute(
                sa.select(Patient.id, Patient.id_number_index).where(
                    Patient.id_number_index.in_(indexes[start:start + CHUNK]),
                    Patient.id.in_(sa.select(PatientLink.patient_id).where(PatientLink.status == "verified")))
                .order_by(Patient.created_at, Patient.id)):
            heard.setdefault(person_index, []).append(patient_id)
    verified = links.verified_accounts_of([patient_id for patients in heard.values() for patient_id in patients])
    for report in visible:  # their accounts read once for the whole batch, not once a report
        _announce(report, instant, patient_ids=heard.get(report.person_index, []), verified=verified)
