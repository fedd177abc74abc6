"""HL7 v2 ORU^R01 ingest: lab results from a hospital's LIS, always answered with an ACK.

Everything is read and checked before anything is written, and the writes run in a savepoint:
a message answered AE or AR leaves nothing behind but its audit row.
"""
import logging

from ..accounts import people
from ..common import audit
from ..common.locking import lock_row
from ..directory.models import Hospital
from ..extensions import db
from ..results.store import save_report
from . import hl7_ack, hl7_codec, hl7_message, hl7_report
from .hl7_ack import Envelope
from .hl7_codec import Hl7Error
from .hl7_fields import when

log = logging.getLogger(__name__)


def ingest(hospital, body, charset=None):
    """Store one ORU^R01 message; returns the ACK as (bytes, Content-Type)."""
    envelope = Envelope()
    try:
        envelope, segments, problem = _open(body, charset)
        if problem:
            raise problem
        msh = segments[0]
        hl7_message.check_header(msh)
        patients = hl7_message.grouped(segments)
        with db.session.begin_nested():  # an AE raised half-way undoes the MRN links and reports before it
            _write_lock_on_sqlite(hospital)
            counts = _store(hospital, msh, patients)
    except Hl7Error as error:
        _audit(hospital, envelope, error.ack, error=error.code, reason=error.app_code)
        return hl7_ack.render(envelope, error.ack, error)
    except Exception:  # the sender must get an ACK; AE with 207 tells it to send the message again later
        log.exception("hl7v2 ingest failed")
        db.session.rollback()
        return hl7_ack.render(envelope, "AE", Hl7Error("AE", 207, "系统内部错误，请稍后重发", app_code="internal"))
    _audit(hospital, envelope, "AA", **counts)
    summary = "created={created} updated={updated} skipped={skipped}".format(**counts)
    return hl7_ack.render(envelope, "AA", text=summary)


def refuse(body, charset, error):
    """An ACK refusing the message without reading its content (e.g. the hospital key is wrong)."""
    try:
        envelope = _open(body, charset)[0]
    except Hl7Error:
        envelope = Envelope()
    return hl7_ack.render(envelope, error.ack, error)


def _open(body, charset):
    """(envelope, segments, problem): problem is set when the body is not in the charset it names."""
    text, codec, label, problem = hl7_codec.decode(body, charset)
    segments = hl7_codec.split(text, codec)
    return Envelope.of(segments[0]), segments, problem


def _store(hospital, msh, patients):
    """Read every report first (so a bad value stores nothing), then match people and save."""
    control_id, message_time = msh.get(10), when(msh, 7)
    read, sources = [], set()
    for patient in patients:
        person_index, mrns = hl7_report.identity(patient.pid)
        reports = [hl7_report.report(order.obr, order.obxs, order.notes, control_id, message_time, patient.visit,
                                     restricted=patient.restricted or order.restricted)
                   for order in patient.orders]
        for order, report in zip(patient.orders, reports, strict=True):
            if report.source_id in sources:
                raise Hl7Error("AE", 205, "同一消息中报告号（OBR-3）重复", order.obr.at(3), "duplicate_report")
            sources.add(report.source_id)
        read.append((patient.pid, person_index, mrns, reports))
    counts = {"created": 0, "updated": 0, "skipped": 0, "reports": len(sources),
              "results": sum(len(report.items) for *_, reports in read for report in reports)}
    for pid, person_index, mrns, reports in read:
        person = hl7_report.person(hospital, pid, person_index, mrns)
        for number in hl7_report.phones(pid):  # a mobile on file lets the person verify by SMS code
            people.record_phone(person, number, "hl7v2", hospital.id)
        for report in reports:
            counts[save_report(hospital, person, report)] += 1
    return counts


def _write_lock_on_sqlite(hospital):
    """SQLite cannot turn a read into a write once another writer committed ("database is locked"): write first."""
    if db.session.get_bind().dialect.name == "sqlite":
        lock_row(Hospital, hospital.id)


def _audit(hospital, envelope, ack, **detail):
    """One audit row per message, accepted or not (only counts and codes: no personal data)."""
    audit.record("hospital", hospital.id, "hl7v2.ingest", resource=f"hl7v2:{envelope.control_id}"[:120],
                 ack=ack, sender=envelope.sender[0][:60], **detail)
