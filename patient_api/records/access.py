"""Who may read a patient's record, and the access log every read of their data (reports too) leaves."""
import sqlalchemy as sa
from flask import g

from ..accounts import links
from ..accounts.models import Patient, PatientLink
from ..accounts.proxies import proxy_label
from ..accounts.staff import Staff
from ..common.clock import now
from ..common.direct import Direct
from ..directory.services import hospital_names
from ..extensions import db
from .models import AccessLogEntry

RESIDENT_CHANNEL = "wechat"  # resident tokens are issued to the WeChat H5 pages; kiosks get their own sessions

ROLE_LABELS = {"nurse": "护士", "cashier": "收费员", "admin": "管理员", "dispatcher": "调度员", "registrar": "挂号员",
               "family_team": "家庭医生团队", "referrer": "转诊医生"}
# Reads made for a purpose the resident should see in words: channel → (purpose, what the hospital did).
PURPOSES = {"referral": ("转诊", "因转诊查看了您的报告")}
ACCESS_COLUMNS = ("at", "actor_type", "actor_id", "channel", "patient_id", "person_index", "resource_type",
                  "resource_id", "request_id")
# Built once: every read of a resident's data runs it, straight through the driver on PostgreSQL.
ACCESS_INSERT = Direct(sa.insert(AccessLogEntry.__table__).values(
    {name: sa.bindparam(name, type_=AccessLogEntry.__table__.c[name].type) for name in ACCESS_COLUMNS}))


patient_not_found = links.patient_not_found


def linked_patients(account_id):
    """The patients whose clinical data the account may read (verified links), oldest link first."""
    return db.session.scalars(sa.select(Patient).join(PatientLink, PatientLink.patient_id == Patient.id)
                              .where(PatientLink.account_id == account_id, PatientLink.status == "verified")
                              .order_by(PatientLink.created_at, PatientLink.id)).all()


def linked_patient(account_id, patient_id):
    """A patient the account verified its link to; 403 verification_required unverified, 404 for anyone else."""
    return links.verified_link(account_id, patient_id).patient


def log_read(actor_type, actor_id, channel, person_index, resource_type, resource_id, patient_id=None):
    """Append one access-log row to the request's transaction (kept only if the read answers 2xx)."""
    if patient_id is None:  # a hospital may read data of someone who has not registered yet
        patient_id = db.session.scalar(sa.select(Patient.id).filter_by(id_number_index=person_index))
    _insert([_row(actor_type, actor_id, channel, person_index, resource_type, resource_id, patient_id)])


def log_resident_read(account_id, patient, resource_type, resource_id):
    """A resident (or a family proxy) read this patient's data."""
    log_resident_reads(account_id, [patient], resource_type, resource_id)


def log_resident_reads(account_id, patients, resource_type, resource_id):
    """A resident read these patients' data (a list showing several people): one row each, one statement."""
    _insert([_row("resident", account_id, RESIDENT_CHANNEL, patient.id_number_index, resource_type, resource_id,
                  patient.id) for patient in patients])


def resident_reads_insert(shown, resource_type):
    """The access-log INSERT of a resident's read, to fold into the read's own statement on PostgreSQL (an INSERT in
    a WITH runs exactly once, in the statement's transaction): one row for each row of `shown`, a SELECT of
    (patient_id, person_index) of the people the answer shows. Binds what resident_read_values gives."""
    log, shown = AccessLogEntry.__table__, shown.subquery("shown")
    return sa.insert(log).from_select(ACCESS_COLUMNS, sa.select(
        sa.bindparam("log_at", type_=log.c.at.type), sa.literal("resident", log.c.actor_type.type),
        sa.bindparam("account_id", type_=log.c.actor_id.type), sa.literal(RESIDENT_CHANNEL, log.c.channel.type),
        shown.c.patient_id, shown.c.person_index, sa.literal(resource_type, log.c.resource_type.type),
        sa.bindparam("log_resource_id", type_=log.c.resource_id.type),
        sa.bindparam("log_request_id", type_=log.c.request_id.type)))


def resident_read_values(account_id, resource_id):
    """The values resident_reads_insert binds, as log_resident_reads would write them."""
    row = _row("resident", account_id, RESIDENT_CHANNEL, None, None, resource_id, None)
    return {"log_at": row["at"], "account_id": account_id, "log_resource_id": row["resource_id"],
            "log_request_id": row["request_id"]}


def _row(actor_type, actor_id, channel, person_index, resource_type, resource_id, patient_id):
    return {"at": now(), "actor_type": actor_type, "actor_id": actor_id, "channel": channel, "patient_id": patient_id,
            "person_index": person_index, "resource_type": resource_type, "resource_id": str(resource_id)[:64],
            "request_id": g.get("request_id")}


def _insert(rows):
    """The rows go into the request's transaction at once, as a plain INSERT: nothing reads their ids back, so the
    ORM's unit of work (a flush at commit, INSERT … RETURNING per row) is not needed; a rollback drops them all."""
    if rows:  # on the session's connection, a single row as one plain execute (no executemany batching)
        ACCESS_INSERT.run(rows[0] if len(rows) == 1 else rows)


def access_log_query(patient):
    """Every read of the person's data, also those made before they registered (no patient id then)."""
    return sa.select(AccessLogEntry).where(AccessLogEntry.person_index == patient.id_number_index)


def render_log(entries, patient, account_id):
    """Rows as the resident reads them: who by label, never another account's id."""
    relations = {account: relation if status in links.ACTIVE_LINK else None for account, relation, status in
                 db.session.execute(sa.select(PatientLink.account_id, PatientLink.relation, PatientLink.status)
                                    .where(PatientLink.patient_id == patient.id)).all()}
    hospitals = hospital_names(e.actor_id for e in entries if e.actor_type == "hospital")
    staff = {s.id: s for s in db.session.scalars(sa.select(Staff).where(
        Staff.id.in_({e.actor_id for e in entries if e.actor_type == "staff"})))}
    hospitals.update(hospital_names(s.hospital_id for s in staff.values()))

    def actor(entry):
        if entry.actor_type == "resident":
            return proxy_label(relations.get(entry.actor_id))
        if entry.actor_type == "hospital":
            return hospitals.get(entry.actor_id, "医院")
        if entry.actor_type == "staff" and entry.actor_id in staff:
            member = staff[entry.actor_id]  # the role, not the login name (kept in the audit for the hospital)
            return f"{hospitals.get(member.hospital_id, '医院')} {ROLE_LABELS.get(member.role, '工作人员')}"
        return {"kiosk": "自助机", "staff": "医院工作人员"}.get(entry.actor_type, entry.actor_type)

    def purpose(entry):
        """(purpose, "泰安市中心医院 因转诊查看了您的报告") for a read made for a purpose, else (None, None)."""
        if entry.channel not in PURPOSES:
            return None, None
        label, did = PURPOSES[entry.channel]
        member = staff.get(entry.actor_id) if entry.actor_type == "staff" else None
        return label, f"{hospitals.get(member.hospital_id, '医院') if member else '医院'} {did}"

    return [{"at": e.at, "actor_type": e.actor_type, "actor": actor(e), "channel": e.channel,
             "resource_type": e.resource_type, "resource_id": e.resource_id,
             "purpose": purpose(e)[0], "description": purpose(e)[1],
             "is_me": e.actor_type == "resident" and e.actor_id == account_id} for e in entries]
