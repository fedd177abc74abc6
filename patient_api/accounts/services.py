"""Accounts, sign-in and patients (就诊人) with family links."""
import logging

import phonenumbers
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..common import auth, crypto
from ..common.clock import now
from ..common.locking import lock_row
from ..errors import ApiError, Conflict, Invalid, Unauthorized
from ..extensions import db
from . import limits, links, people, proxies
from .identity import parse_resident_id
from .models import ACTIVE_LINK, Account, PatientLink

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
    """The account's claimed, pending and verified links, oldest first."""
    return db.session.scalars(select(PatientLink).where(PatientLink.account_id == account_id,
                                                        PatientLink.status.in_(ACTIVE_LINK))
                              .order_by(PatientLink.created_at, PatientLink.id)).all()


def link_for(account_id, patient_id):
    """The account's active link to that patient; 404 for anyone else's patient (existence is not revealed)."""
    return links.active_link(account_id, patient_id)


def add_patient(account_id, name, id_number, phone, relation, instant=None):
    """Add a 就诊人: a claim on the person with that ID number (new patient or an existing one).

    The answer is the same whether or not the typed name matches the person's legal name (no name
    oracle): the name is checked when the link is verified. A proxy of someone who verified themselves
    waits for their consent (`pending`).
    """
    instant = instant or now()
    resident = parse_resident_id(id_number)
    phone = normalise_phone(phone)
    limits.adding(account_id, resident.number)
    lock_row(Account, account_id)  # serialises this account's adds so the limit holds
    count = db.session.scalar(select(func.count()).select_from(PatientLink).where(
        PatientLink.account_id == account_id, PatientLink.status.in_(ACTIVE_LINK)))
    if count >= current_app.config["MAX_PATIENTS_PER_ACCOUNT"]:
        raise Conflict("每个账户最多添加5位就诊人", code="patient_limit_reached")
    patient = people.patient_by_id_number(resident.number) or people.create_patient(name, resident, "claim")
    link = links.link_of(account_id, patient.id)
    if link is not None and link.active:
        raise Conflict("该就诊人已添加", code="patient_already_linked")
    if link is None:
        link = PatientLink(account_id=account_id, patient=patient)
        db.session.add(link)
    link.relation, link.claimed_name, link.phone_enc = relation, name, crypto.encrypt(phone)
    link.verified_at = link.verified_method = None
    link.failed_attempts = 0
    link.move_to("pending" if links.self_accounts(patient.id) else "claimed", instant)
    db.session.flush()
    if link.status == "pending":
        proxies.requested(link)
    return link


def remove_patient(account_id, patient_id):
    """Unlink a patient from this account; the patient and their history stay."""
    link = link_for(account_id, patient_id)
    db.session.delete(link)
    db.session.flush()
    if not links.self_accounts(patient_id):  # nobody left to consent: waiting proxies verify like any claim
        db.session.execute(update(PatientLink).where(PatientLink.patient_id == patient_id,
                                                        PatientLink.status == "pending").values(status="claimed"))
