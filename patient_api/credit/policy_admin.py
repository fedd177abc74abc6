"""A hospital's admin reads and sets its 先诊疗后付费 policy (enabled, and the three limits), audited.

Limits are granted when a resident opts in (or renews): a lower limit applies to enrolments made from then on and
never takes back credit already given — enrolments keep their limit and bills already on credit stay on credit
until settled. Turning the service off stops new bills going on credit at once (bills.take_on_credit) and refuses
new enrolments; what is on credit is settled as usual.
"""
from flask import current_app

from ..accounts.staff import Staff
from ..common import audit
from ..common.auth import current_staff_id
from ..common.clock import now
from ..common.locking import lock_row
from ..directory.models import Hospital
from ..errors import Forbidden
from ..extensions import db
from . import policy
from .models import CreditPolicy

FIELDS = ("enabled", "base_limit_fen", "family_doctor_limit_fen", "insured_limit_fen")
MIN_LIMIT_FEN, MAX_LIMIT_FEN = 10_000, 5_000_000  # 100 元 to 5 万元 per patient


def current_admin():
    """The signed-in staff member, who must be an admin (403 role_forbidden)."""
    staff = db.session.get(Staff, current_staff_id())
    if staff.role != "admin":
        raise Forbidden("只有医院管理员可以查看和设置先诊疗后付费额度", code="role_forbidden")
    return staff


def view(hospital_id):
    """The hospital's policy as it applies now, and whether it is its own or the configured defaults."""
    row = db.session.get(CreditPolicy, hospital_id)
    config = current_app.config
    return {"hospital_id": hospital_id, "hospital_name": db.session.get(Hospital, hospital_id).name,
            **policy.terms(hospital_id), "custom": row is not None, "updated_at": row.updated_at if row else None,
            "updated_by": row.updated_by if row else None,
            "defaults": {"base_limit_fen": config["CREDIT_BASE_LIMIT_FEN"],
                         "family_doctor_limit_fen": config["CREDIT_FAMILY_DOCTOR_LIMIT_FEN"],
                         "insured_limit_fen": config["CREDIT_INSURED_LIMIT_FEN"]},
            "min_limit_fen": MIN_LIMIT_FEN, "max_limit_fen": MAX_LIMIT_FEN}


def update(admin, body, instant=None):
    """Replace the hospital's policy (validated by the schema); audited with what it was and what it is."""
    hospital_id = admin.hospital_id
    lock_row(Hospital, hospital_id, keep_keys=True)  # two admins saving at once: one after the other
    before = policy.terms(hospital_id)
    row = db.session.get(CreditPolicy, hospital_id)
    if row is None:
        row = CreditPolicy(hospital_id=hospital_id)
        db.session.add(row)
    for name in FIELDS:
        setattr(row, name, body[name])
    row.updated_at, row.updated_by = instant or now(), admin.id
    db.session.flush()
    audit.record("staff", admin.id, "credit.policy_update", resource=hospital_id,
                 before=before, after={name: body[name] for name in FIELDS})
    return view(hospital_id)
