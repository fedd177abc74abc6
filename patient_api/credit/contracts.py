"""委托代扣 contracts: the resident signs in WeChat, the contract's state follows WeChat's notifications."""
import logging
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..accounts import links
from ..accounts.models import Account, Patient
from ..accounts.notices import tell_accounts
from ..billing import notifications
from ..billing.gateway import pay_gateway, queue_sandbox_notification
from ..billing.payments import NotificationRejected
from ..billing.wechatpay import PayError
from ..common.clock import now
from ..common.locking import lock_row
from ..common.masking import mask_name
from ..errors import ApiError, Conflict, NotFound
from ..extensions import db
from .models import CreditContract, CreditEnrolment

log = logging.getLogger(__name__)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 商户签约协议号: letters and digits only
SIGNING_SESSION = timedelta(minutes=10)  # how long WeChat keeps a pre-sign page open


def contract_of(patient_id):
    """The patient's latest contract being signed or in force, or None."""
    return db.session.scalars(sa.select(CreditContract).where(
        CreditContract.patient_id == patient_id, CreditContract.status.in_(("signing", "active")))
        .order_by(CreditContract.status == "signing", CreditContract.created_at.desc())).first()


def sign(account_id, patient_id, instant=None):
    """Open a signing session for the account's own wallet; returns (contract, {"redirect_url"}). The contract is
    `signing` until WeChat's PAPAY.SIGN notification makes it active. 409 credit_contract_exists,
    credit_not_enrolled."""
    instant = instant or now()
    links.verified_link(account_id, patient_id)
    lock_row(Patient, patient_id, keep_keys=True)
    enrolled = db.session.scalar(sa.select(sa.func.count()).select_from(CreditEnrolment).where(
        CreditEnrolment.patient_id == patient_id, CreditEnrolment.status == "active"))
    if not enrolled:
        raise Conflict("请先开通先诊疗后付费，再开通自动扣费", code="credit_not_enrolled")
    contract = contract_of(patient_id)
    if contract is not None and contract.status == "signing" and contract.account_id != account_id \
            and contract.created_at < instant - SIGNING_SESSION:  # WeChat's page for it has expired: start afresh
        contract.status, contract.terminated_at = "terminated", instant
        contract = None
    if contract is not None and (contract.status == "active" or contract.account_id != account_id):
        raise Conflict("该就诊人已开通（或正在开通）自动扣费", code="credit_contract_exists")
    account = db.session.get(Account, account_id)
    if contract is None:
        contract = CreditContract(patient_id=patient_id, account_id=account_id, openid=account.openid,
                                  plan_id=current_app.config["WECHATPAY_PAPAY_PLAN_ID"], created_at=instant,
                                  out_contract_code="".join(secrets.choice(CODE_ALPHABET) for _ in range(24)))
        db.session.add(contract)
    db.session.flush()
    args = (contract.plan_id, contract.out_contract_code,
            f"{mask_name(db.session.get(Patient, patient_id).name)}的诊疗费用"[-32:], contract.openid)
    contract_id = contract.id
    db.session.commit()  # the session exists before WeChat is asked; a retry reuses it
    settings, client = pay_gateway()
    try:
        session = client.presign_contract(*args, settings.notify_url)
    except PayError as exc:
        raise ApiError("微信支付暂时不可用，请稍后再试", code="wechatpay_unavailable", status=502) from exc
    return db.session.get(CreditContract, contract_id), session


def terminate(account_id, patient_id, instant=None):
    """End automatic deduction (解约) through WeChat; the PAPAY.TERMINATE notification completes it. A contract not
    yet signed is simply dropped. 404 credit_contract_not_found."""
    links.verified_link(account_id, patient_id)
    contract = contract_of(patient_id)
    if contract is None:
        raise NotFound("未开通自动扣费", code="credit_contract_not_found")
    if contract.status == "signing":
        contract.status, contract.terminated_at = "terminated", instant or now()
        db.session.flush()
        return contract
    contract_id, out_contract_code, wechat_id = contract.id, contract.out_contract_code, contract.contract_id
    db.session.commit()
    settings, client = pay_gateway()
    try:
        client.terminate_contract(wechat_id, "就诊人在泰安健康中关闭自动扣费")
    except PayError as exc:
        raise ApiError("微信支付暂时不可用，请稍后再试", code="wechatpay_unavailable", status=502) from exc
    if not settings.is_live:  # the sandbox tells us as WeChat would
        queue_sandbox_notification(settings, "PAPAY.TERMINATE",
                                   client.contract_notification(out_contract_code, (instant or now()).timestamp()))
    return db.session.get(CreditContract, contract_id)


@notifications.handles("PAPAY.")
def apply_contract_notice(settings, resource, instant=None):
    """A signed PAPAY.SIGN / PAPAY.TERMINATE notification (or a query answer), applied once under the contract's
    row lock; a replay changes nothing."""
    instant = instant or now()
    if resource.get("mchid") != settings.mchid:
        raise NotificationRejected("商户号不匹配", code="mchid_mismatch")
    if resource.get("appid") != settings.appid:
        raise NotificationRejected("AppID 不匹配", code="appid_mismatch")
    contract_id = db.session.scalar(sa.select(CreditContract.id).where(
        CreditContract.out_contract_code == resource.get("out_contract_code")))
    if contract_id is None:
        raise NotificationRejected("协议不存在", code="unknown_contract")
    lock_row(CreditContract, contract_id)
    contract = db.session.get(CreditContract, contract_id, populate_existing=True)
    if resource.get("openid") != contract.openid or resource.get("plan_id") != contract.plan_id:
        raise NotificationRejected("协议信息不匹配", code="contract_mismatch")
    change = resource.get("change_type") or resource.get("contract_state")
    if change == "ADD":
        # A signature that arrives after its session was given up still stands, unless another contract took over.
        late = contract.status == "terminated" and contract.signed_at is None and \
            not db.session.scalar(sa.select(CreditContract.id).filter_by(patient_id=contract.patient_id,
                                                                         status="active"))
        if contract.status != "signing" and not late:
            return "duplicate"
        contract.status, contract.contract_id, contract.signed_at = "active", resource.get("contract_id"), instant
        for other in db.session.scalars(sa.select(CreditContract).filter_by(patient_id=contract.patient_id,
                                                                             status="signing")):
            other.status, other.terminated_at = "terminated", instant  # one contract pays: other sessions lapse
        tell_accounts(contract.patient_id, "credit.contract_signed", {"contract_id": contract.id,
                                                                      "signed_at": instant.isoformat()})
    elif change == "DELETE":
        if contract.status == "terminated":
            return "duplicate"
        contract.status, contract.terminated_at = "terminated", instant
        contract.termination_mode = resource.get("contract_termination_mode")
        tell_accounts(contract.patient_id, "credit.contract_terminated", {"contract_id": contract.id,
                                                                          "terminated_at": instant.isoformat()})
    else:
        return "ignored"
    db.session.flush()
    log.info("contract %s is %s", contract.id, contract.status)
    return contract.status
