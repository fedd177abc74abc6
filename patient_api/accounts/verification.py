"""Verifying a link (实名认证): proof of something the city already holds for the person, never what was typed.

Each method is a small object with `start(link, instant)` (send or issue something; may be unsupported)
and `check(link, proof, instant)` (returns the legal name the proof carries, or None). More methods —
WeChat real-name, the national 电子健康卡 — plug in by adding one to METHODS.
"""
import hmac
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from .. import sms
from ..common import audit, crypto
from ..common.clock import now
from ..common.locking import lock_row
from ..common.masking import mask_phone
from ..errors import ApiError, Conflict, Invalid, RateLimited
from ..extensions import db
from . import limits, links, people
from .models import Patient, PatientLink
from .proofs import BindingCode, VerificationCode, code_hash, random_digits

MAX_TRIES = 5
MISMATCH = "验证未通过：您填写的就诊人信息与医院登记的信息不一致，请删除该就诊人后重新添加"


def _expired():
    return Conflict("验证码已失效，请重新获取", code="code_expired")


def _invalid(left):
    hint = f"，还可尝试{left}次" if left > 0 else "，请重新获取"
    return Invalid(f"验证码不正确{hint}", code="code_invalid", errors={"code": ["验证码不正确"]})


def _too_many(retry_after=60):
    error = RateLimited(retry_after)
    error.message = "验证码错误次数过多，请稍后重新获取"
    return error


class SmsCode:
    """A 6-digit code to the mobile that hospitals hold for the person: 5 minutes, 5 tries, resend after 60 s."""

    name = "sms"

    def start(self, link, instant):
        config = current_app.config
        person = link.patient.id_number_index
        lock_row(Patient, link.patient_id)  # sends for one person are counted one at a time
        phone = people.phone_on_file(person)
        if phone is None:
            raise Conflict("未查询到医院为该就诊人登记的手机号，请携带身份证到医院自助机或窗口获取绑定码完成验证",
                           code="no_phone_on_file")
        self._check_send_limits(link, phone.phone_index, instant)
        db.session.execute(sa.update(VerificationCode).where(  # a new code replaces the older ones
            VerificationCode.link_id == link.id, VerificationCode.used_at.is_(None),
            VerificationCode.expires_at > instant).values(expires_at=instant))
        ttl = config["VERIFY_CODE_SECONDS"]
        row = VerificationCode(link_id=link.id, account_id=link.account_id, person_index=person,
                               phone_index=phone.phone_index, code_hash="", created_at=instant,
                               expires_at=instant + timedelta(seconds=ttl))
        db.session.add(row)
        db.session.flush()
        code = random_digits(6)
        row.code_hash = code_hash(row.id, code)
        sms.send(phone.phone_enc, "verification", [code, str(ttl // 60)])
        return {"phone": mask_phone(crypto.decrypt(phone.phone_enc)), "expires_in": ttl,
                "resend_after": config["SMS_RESEND_SECONDS"]}

    def _check_send_limits(self, link, phone_index, instant):
        """Counted in the database under the person's lock, so parallel requests cannot slip past."""
        config = current_app.config
        last = db.session.scalar(sa.select(sa.func.max(VerificationCode.created_at)).where(
            VerificationCode.link_id == link.id))
        wait = config["SMS_RESEND_SECONDS"] - (instant - last).total_seconds() if last else 0
        if wait > 0:
            raise RateLimited(wait)
        hour = instant - timedelta(hours=1)
        for column, subject, limit in ((VerificationCode.phone_index, phone_index, config["SMS_PHONE_HOURLY"]),
                                       (VerificationCode.account_id, link.account_id, config["SMS_ACCOUNT_HOURLY"]),
                                       (VerificationCode.person_index, link.patient.id_number_index,
                                        config["SMS_PHONE_HOURLY"])):
            sent = db.session.scalar(sa.select(sa.func.count()).where(column == subject,
                                                                       VerificationCode.created_at > hour))
            if sent >= limit:
                raise RateLimited(3600)

    def check(self, link, code, instant):
        row = db.session.scalars(sa.select(VerificationCode).where(VerificationCode.link_id == link.id)
                                 .order_by(VerificationCode.created_at.desc()).limit(1)).first()
        if row is None or row.used_at is not None or row.expires_at <= instant:
            raise _expired()
        # Counted before comparing, atomically: parallel guesses cannot get more than MAX_TRIES looks.
        tries = db.session.execute(sa.update(VerificationCode).where(
            VerificationCode.id == row.id, VerificationCode.attempts < MAX_TRIES, VerificationCode.used_at.is_(None))
            .values(attempts=VerificationCode.attempts + 1).returning(VerificationCode.attempts)).scalar()
        if tries is None:
            raise _too_many()
        if not hmac.compare_digest(code_hash(row.id, code), row.code_hash):
            db.session.commit()  # the error answer rolls back; the spent try must stay spent
            raise _invalid(MAX_TRIES - tries)
        used = db.session.execute(sa.update(VerificationCode).where(
            VerificationCode.id == row.id, VerificationCode.used_at.is_(None)).values(used_at=instant)).rowcount
        if used != 1:  # the same right code raced itself: only one use counts
            raise _expired()
        return None


class KioskOrCounterCode:
    """A one-time code issued after the physical ID card was read (kiosk chip) or checked (counter staff)."""

    name = "binding_code"

    def start(self, link, instant):
        raise Conflict("请到医院自助机刷身份证，或到窗口出示身份证，获取绑定码", code="method_not_startable")

    def check(self, link, code, instant):
        row = db.session.scalars(sa.select(BindingCode).filter_by(code_hash=code_hash("binding", code))).first()
        usable = (row is not None and row.used_at is None and row.expires_at > instant
                  and row.person_index == link.patient.id_number_index)
        if not usable:
            failures = db.session.execute(sa.update(PatientLink).where(PatientLink.id == link.id).values(
                failed_attempts=PatientLink.failed_attempts + 1).returning(PatientLink.failed_attempts)).scalar()
            db.session.commit()  # kept although the answer rolls back
            if failures > MAX_TRIES:
                raise _too_many(3600)
            raise _invalid(MAX_TRIES - failures)
        used = db.session.execute(sa.update(BindingCode).where(
            BindingCode.id == row.id, BindingCode.used_at.is_(None)).values(
            used_at=instant, used_by_link=link.id)).rowcount
        if used != 1:
            raise _expired()
        return row.name


METHODS = {method.name: method for method in (SmsCode(), KioskOrCounterCode())}


def start(account_id, patient_id, method, instant=None):
    """Begin verifying the account's link with `method` (sends the SMS code); 202 body."""
    link = links.active_link(account_id, patient_id)
    if link.verified:
        raise Conflict("该就诊人已完成验证", code="already_verified")
    return METHODS[method].start(link, instant or now())


def confirm(account_id, patient_id, body, instant=None):
    """Check a code; on success the link is verified (the legal name is taken from the proof when it has one)."""
    instant = instant or now()
    link = links.active_link(account_id, patient_id)
    if link.verified:
        return link
    if link.failed_attempts > MAX_TRIES and "binding_code" in body:
        raise _too_many(3600)
    limits.confirming(account_id, link.patient.id_number_index)
    method = METHODS["binding_code" if "binding_code" in body else "sms"]
    card_name = method.check(link, body.get("binding_code") or body.get("code"), instant)
    patient = link.patient
    if card_name:
        people.adopt_name(patient, card_name, "card")
    if patient.name_is_authoritative and _plain(patient.name) != _plain(link.claimed_name):
        db.session.commit()  # the code is spent either way
        raise ApiError(MISMATCH, code="verification_failed", status=422)
    people.adopt_name(patient, link.claimed_name, "verified")
    link.move_to("verified", instant)
    link.verified_at, link.verified_method, link.failed_attempts = instant, method.name, 0
    audit.record("resident", account_id, "link.verified", patient_id=patient.id, resource=link.id,
                 method=method.name)
    db.session.flush()
    return link


def issue_binding_code(person_index, name, issuer_type, issuer_id, instant=None):
    """A one-time binding code for the person whose card was checked; returns (code, seconds valid)."""
    instant = instant or now()
    ttl = current_app.config["BINDING_CODE_SECONDS"]
    for _ in range(5):
        code = random_digits(8)
        try:
            with db.session.begin_nested():
                db.session.add(BindingCode(code_hash=code_hash("binding", code), person_index=person_index,
                                           name=name.strip(), issued_by_type=issuer_type, issued_by_id=issuer_id,
                                           created_at=instant, expires_at=instant + timedelta(seconds=ttl)))
            break
        except sa.exc.IntegrityError:  # the same 8 digits are live already: draw again
            continue
    else:
        raise ApiError("绑定码生成失败，请重试", code="binding_code_unavailable", status=503)
    patient = people.patient_by_index(person_index)
    if patient is not None:  # a new code is a new chance for links locked out by wrong codes
        db.session.execute(sa.update(PatientLink).where(PatientLink.patient_id == patient.id)
                           .values(failed_attempts=0))
    return code, ttl


def _plain(name):
    """Names compared without spaces or the middle-dot variants."""
    return "".join((name or "").split()).replace("•", "·")
