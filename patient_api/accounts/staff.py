"""Staff accounts (nurse, cashier, admin, dispatcher, registrar, family-doctor team member, referrer) scoped to a
hospital and wards; sign-in, lockout."""
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from ..common import audit, auth
from ..common.clock import UtcDateTime, now
from ..common.ids import new_id
from ..errors import ApiError, Invalid, Unauthorized
from ..extensions import db
from . import limits

# dispatcher: 互联网+护理 调度 (homecare); registrar: 挂号窗口, books for residents at the counter and on the phone;
# family_team: a member of a 家庭医生 team (patient_api.family), acting for the teams it is a member of;
# referrer: a doctor who sends and receives 双向转诊 referrals for the hospital (patient_api.referrals).
ROLES = ("nurse", "cashier", "admin", "dispatcher", "registrar", "family_team", "referrer")
MAX_FAILURES = 5
LOCK_MINUTES = 30
# Hash a fixed password once so unknown usernames take as long as wrong passwords (no user enumeration).
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


class Staff(db.Model):
    """A member of hospital staff; `wards` limits which inpatients they see."""

    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=lambda: new_id("stf"))
    hospital_id: Mapped[str] = mapped_column(sa.ForeignKey("hospitals.id"), index=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str | None] = mapped_column(sa.String(20))  # the person's name where others read it (转诊 history)
    wards: Mapped[str] = mapped_column(sa.String(400), default="")  # comma-separated ward codes
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)

    @property
    def ward_codes(self):
        """The wards this account may act on."""
        return [code for code in self.wards.split(",") if code]


def create_staff(hospital, username, password, role, wards, name=None):
    """A new staff account with a scrypt password hash (werkzeug); 422 on a weak password or bad role."""
    if role not in ROLES:
        raise Invalid(errors={"role": [f"应为以下之一：{', '.join(ROLES)}"]})
    if len(password) < 10 or password.isdigit() or password.isalpha():
        raise Invalid("密码至少10位，且需包含字母和数字", errors={"password": ["密码强度不足"]})
    if name and len(name) > 20:
        raise Invalid("姓名至多20个字", errors={"name": ["姓名至多20个字"]})
    staff = Staff(hospital_id=hospital.id, username=username, role=role, wards=",".join(wards), name=name or None,
                  password_hash=generate_password_hash(password, method=current_app.config["STAFF_PASSWORD_HASH"]))
    db.session.add(staff)
    db.session.flush()
    audit.record("system", "cli", "staff.create", resource=staff.id, username=username, role=role)
    return staff


def sign_in(username, password, address=None, instant=None):
    """Check the password; five failures in a row lock the account for 30 minutes (423).

    The lock is decided in the database together with each attempt: a correct password only signs in if the
    account is still unlocked after the (slow) hash, so parallel guesses cannot slip a success past a lock set
    meanwhile. Unknown usernames lock the same way (in Redis), so neither 401 nor 423 tells which ones exist.
    """
    instant = instant or now()
    limits.staff_login_allowed(address or "-")
    staff = db.session.scalars(sa.select(Staff).filter_by(username=username)).first()
    if staff is None:
        locked = limits.unknown_staff_failures(username) >= MAX_FAILURES
    else:
        locked = staff.locked_until is not None and staff.locked_until > instant
    if locked:
        raise _locked()
    if staff is None or not check_password_hash(staff.password_hash, password):
        if staff is None:
            check_password_hash(_DUMMY_HASH, password)  # unknown usernames take as long as wrong passwords
        else:
            _count_failure(staff, instant)
        limits.staff_login_failed(address or "-", username if staff is None else None)
        raise Unauthorized("用户名或密码错误", code="invalid_credentials")
    unlocked = db.session.execute(sa.update(Staff).where(
        Staff.id == staff.id, sa.or_(Staff.locked_until.is_(None), Staff.locked_until <= instant))
        .values(failed_logins=0, locked_until=None)).rowcount
    if not unlocked:  # locked by a parallel guess while this password was being hashed
        raise _locked()
    audit.record("staff", staff.id, "staff.login")
    token, _ = auth.issue_session("staff", staff.id, idle=current_app.config["STAFF_SESSION_IDLE_SECONDS"])
    return token, current_app.config["STAFF_SESSION_IDLE_SECONDS"]


def _locked():
    return ApiError(f"账户已锁定，请于{LOCK_MINUTES}分钟后再试", code="account_locked", status=423)


def _count_failure(staff, instant):
    """Count atomically (parallel guesses all count) and lock on the fifth; committed even though we answer 401."""
    failures = db.session.execute(sa.update(Staff).where(Staff.id == staff.id)
                                  .values(failed_logins=Staff.failed_logins + 1)
                                  .returning(Staff.failed_logins)).scalar_one()
    if failures >= MAX_FAILURES:
        db.session.execute(sa.update(Staff).where(Staff.id == staff.id).values(
            failed_logins=0, locked_until=instant + timedelta(minutes=LOCK_MINUTES)))
    audit.record("staff", staff.id, "staff.login_failed", failures=failures)
    db.session.commit()  # the error answer rolls back; the failure count must survive it
