"""Accounts, sign-in and patients (就诊人) with family links."""
import logging

import phonenumbers
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..common import auth, crypto
from ..common.clock import now
from ..common.locking import lock_row
from ..errors import ApiError, Conflict, Invalid, NotFound, Unauthorized
from ..extensions import db
from .identity import parse_resident_id
from .models import Account, Patient, PatientLink

log = logging.getLogger(__name__)


def account_for_openid(openid, unionid=None):
    """The account of a WeChat openid, created on first sign-in (safe under concurrent first logins)."""
    account = db.session.scalars(select(Account).filter_by(openid=openid)).first()
    if account is None:
        try:
            with db.session.begin_nested():
                account = Account(openid=openid, unionid=unionid)
                db.session.add(account)
        except IntegrityError:
            account = db.session.scalars(select(Account).filter_by(openid=openid)).one()
    if unionid and account.unionid != unionid:
        account.unionid = unionid
    account.last_login_at = now()
    db.session.flush()
    return account


def sign_in(openid, unionid=None):
    """Start a resident session for that WeChat identity."""
    account = account_for_openid(openid, unionid)
    return auth.issue_session("resident", account.id)


def sign_in_with_wechat_code(code, oauth):
    """Exchange an OAuth code (snsapi_base/userinfo) through `oauth` (wechatpy WeChatOAuth)."""
    from wechatpy.exceptions import WeChatClientException, WeChatOAuthException
    try:
        result = oauth.fetch_access_token(code)
    except (WeChatOAuthException, WeChatClientException) as exc:
        raise Unauthorized("微信授权已失效，请重新进入", code="wechat_code_invalid") from exc
    except Exception as exc:  # network trouble talking to WeChat is not the resident's fault
        raise ApiError("微信服务暂时不可用，请稍后再试", code="wechat_unavailable", status=502) from exc
    if not result.get("openid"):
        raise Unauthorized("微信授权已失效，请重新进入", code="wechat_code_invalid")
    unionid = result.get("unionid")
    if "snsapi_userinfo" in (result.get("scope") or ""):
        unionid = _userinfo_unionid(oauth, result) or unionid
    return sign_in(result["openid"], unionid)


def _userinfo_unionid(oauth, token):
    """The unionid from /sns/userinfo; nickname, avatar and the rest are dropped unread (we store none)."""
    try:
        info = oauth.get_user_info(token["openid"], token["access_token"])
    except Exception as exc:  # the openid already signs the resident in; unionid can come next time
        log.warning("wechat userinfo unavailable (%s); signing in by openid", type(exc).__name__)
        return None
    return info.get("unionid") if info.get("openid") == token["openid"] else None


def normalise_phone(raw):
    """A mainland mobile or landline number as national digits; 422 if invalid."""
    if not raw:
        return None
    try:
        parsed = phonenumbers.parse(raw, "CN")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise Invalid(errors={"phone": ["手机号码无效"]})
    return str(parsed.national_number)


def linked_patients(account_id):
    """The account's links, oldest first."""
    return db.session.scalars(select(PatientLink).filter_by(account_id=account_id)
                              .order_by(PatientLink.created_at, PatientLink.id)).all()


def link_for(account_id, patient_id):
    """The account's link to that patient; 404 for anyone else's patient (existence is not revealed)."""
    link = db.session.scalars(select(PatientLink).filter_by(account_id=account_id, patient_id=patient_id)).first()
    if link is None:
        raise NotFound("未找到该就诊人", code="patient_not_found")
    return link


def add_patient(account_id, name, id_number, phone, relation):
    """Add a 就诊人: a new patient, or a link to the existing one with that ID number (family proxy)."""
    resident = parse_resident_id(id_number)
    phone = normalise_phone(phone)
    lock_row(Account, account_id)  # serialises this account's adds so the limit holds
    count = db.session.scalar(select(func.count()).select_from(PatientLink).filter_by(account_id=account_id))
    if count >= current_app.config["MAX_PATIENTS_PER_ACCOUNT"]:
        raise Conflict("每个账户最多添加5位就诊人", code="patient_limit_reached")
    patient = patient_by_id_number(resident.number)
    if patient is None:
        patient = create_patient(name, resident, phone)
    elif patient.name != name:
        # Knowing someone's ID number alone must not open their records.
        raise Invalid("姓名与身份证号不匹配", code="patient_identity_mismatch",
                      errors={"name": ["姓名与身份证号不匹配"]})
    if db.session.scalars(select(PatientLink).filter_by(account_id=account_id, patient_id=patient.id)).first():
        raise Conflict("该就诊人已添加", code="patient_already_linked")
    link = PatientLink(account_id=account_id, patient=patient, relation=relation)
    db.session.add(link)
    db.session.flush()
    return link


def patient_by_id_number(number):
    """The patient with that (normalised) ID number, or None."""
    return db.session.scalars(select(Patient).filter_by(id_number_index=crypto.blind_index(number))).first()


def create_patient(name, resident, phone):
    """Insert a patient; if another account inserted the same person a moment ago, use theirs."""
    try:
        with db.session.begin_nested():
            patient = Patient(name=name, id_number_enc=crypto.encrypt(resident.number),
                              id_number_index=crypto.blind_index(resident.number),
                              phone_enc=crypto.encrypt(phone), gender=resident.gender,
                              birth_date=resident.birth_date, region_code=resident.region_code)
            db.session.add(patient)
        return patient
    except IntegrityError:
        return patient_by_id_number(resident.number)


def remove_patient(account_id, patient_id):
    """Unlink a patient from this account; the patient and their history stay."""
    link = link_for(account_id, patient_id)
    db.session.delete(link)
    db.session.flush()
