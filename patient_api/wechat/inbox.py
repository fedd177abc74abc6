"""消息 inbox: every WeChat message addressed to an account, whether WeChat delivered it, refused it or never sent it.

Messages are the outbox rows of the `wechat_message` channel whose destination is the account; nothing is
copied. What a row says is worked out when it is read (the same facts the WeChat template uses, masked), and
read state lives in `message_reads`. Clinical news about a person the account may no longer read (link revoked
or removed) keeps its heading but not its content.
"""
import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..accounts.links import verified_patient_ids
from ..common.clock import UtcDateTime, now
from ..common.notify import CHANNEL
from ..common.outbox import OutboxMessage
from ..common.paging import page
from ..errors import NotFound
from ..extensions import db
from .facts import gather
from .templates import _Blank


class MessageRead(db.Model):
    """When an account opened one of its messages."""

    __tablename__ = "message_reads"

    message_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("outbox.id", ondelete="CASCADE"),
                                            primary_key=True)
    account_id: Mapped[str] = mapped_column(sa.String(32), sa.ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)


# event → (title, lines as format strings over the message's facts, H5 page); pages as in templates.DEFAULTS
_STAY = "/admissions/{admission_id}"
_CARE = "/homecare/orders/{homecare_order_id}"
_CARE_WHAT = "{patient} {hospital} {homecare_service}"
_FAMILY = "/family/contracts/{family_contract_id}"
_FAMILY_WHO = "{patient} {hospital} {family_team}"
_REFERRAL = "/referrals/{referral_id}"
EVENTS = {
    "booking.confirmed": ("预约成功", ["{patient} {hospital} {department}", "{visit_time} {queue_no}"],
                          "/appointments/{appointment_id}"),
    "booking.cancelled": ("预约已取消", ["{patient} {hospital} {department}", "{visit_time}，原因：{reason}"],
                          "/appointments/{appointment_id}"),
    "visit.reminder": ("就诊提醒", ["{patient} {hospital} {department}", "{visit_time} {queue_no}，请按时到院签到"],
                       "/appointments/{appointment_id}"),
    "waitlist.offer": ("候补成功，请尽快支付", ["{patient} {hospital} {department}",
                                               "{visit_time}，请在 {hold_expires_time} 前支付"],
                       "/appointments/{appointment_id}"),
    "payment.received": ("缴费成功", ["{patient} {hospital}", "{bill_item} {amount}"], "/bills/{bill_id}"),
    "refund.done": ("退款成功", ["{patient} {hospital}", "退款 {amount}，原路退回"], "/bills/{bill_id}"),
    "report.ready": ("报告已出", ["{patient} {report_title}", "{hospital} {issued_time}"], "/reports/{report_id}"),
    "report.amended": ("报告已更正", ["{patient} {report_title}", "{hospital} {issued_time}"], "/reports/{report_id}"),
    "deposit.low": ("预交金余额不足", ["{patient} {hospital} {ward}", "可用余额 {available}，{deposit_advice}"], _STAY),
    "inpatient.balance_due": ("出院结算待缴费", ["{patient} {hospital}", "待缴 {balance_due}"], _STAY),
    "inpatient.settled": ("出院结算已完成", ["{patient} {hospital}", "余额 {refund} 原路退回"], _STAY),
    "credit.settlement_due": ("先诊疗后付费待结算", ["{patient} {hospital}", "本次结算自付 {self_pay}，请尽快支付"],
                              "/credit"),
    "credit.settled": ("先诊疗后付费已结算", ["{patient} {hospital}", "合计 {total}，本次支付 {amount}"], "/credit"),
    "credit.deduction_failed": ("自动扣费未成功", ["{patient} {hospital}", "自付 {self_pay} 请自行支付"], "/credit"),
    "credit.reminder": ("先诊疗后付费逾期提醒", ["{patient} {hospital}", "自付 {self_pay} 已逾期 {day} 天，请尽快支付"],
                        "/credit"),
    "credit.suspended": ("先诊疗后付费已暂停", ["{patient}：结算逾期未付，全市暂停先诊疗后付费", "付清后自动恢复"],
                         "/credit"),
    "credit.contract_signed": ("已开通自动扣费", ["{patient} 的先诊疗后付费结算将自动扣款"], "/credit"),
    "credit.contract_terminated": ("自动扣费已关闭", ["{patient} 的先诊疗后付费结算需自行支付"], "/credit"),
    "proxy.requested": ("家人申请代您办理", ["{patient}：有家属账户申请代您办理就医业务", "请同意或拒绝"],
                        "/patients/{patient_id}/links"),
    "proxy.verified": ("代办申请已同意", ["{patient} 同意您代为办理，现在可以查看其报告和病历"],
                       "/patients/{patient_id}"),
    "proxy.declined": ("代办申请未通过", ["{patient} 拒绝了您的代办申请"], "/patients"),
    "proxy.revoked": ("代办授权已撤销", ["{patient} 撤销了您的代办授权"], "/patients"),
    "homecare.accepted": ("护理申请已受理", [_CARE_WHAT, "上门时段 {homecare_window}"], _CARE),
    "homecare.declined": ("护理申请未通过", [_CARE_WHAT, "原因：{reason}"], _CARE),
    "homecare.lapsed": ("护理申请已失效", [_CARE_WHAT, "医院未能及时受理，请重新申请或联系医院"], _CARE),
    "homecare.confirmed": ("护士已接单", [_CARE_WHAT, "上门时段 {homecare_window}"], _CARE),
    "homecare.reassigned": ("已更换上门护士", [_CARE_WHAT, "上门时段 {homecare_window}，新护士接单后上门"], _CARE),
    "homecare.on_the_way": ("护士已出发", [_CARE_WHAT, "请保持电话畅通"], _CARE),
    "homecare.started": ("护士已到达", [_CARE_WHAT, "到达时间 {checked_in_time}"], _CARE),
    "homecare.finished": ("护理服务已完成，请缴费", [_CARE_WHAT, "应缴 {total}"], _CARE),
    "homecare.cancelled": ("护理申请已取消", [_CARE_WHAT, "取消费 {cancel_fee}"], _CARE),
    "family.accepted": ("家庭医生签约成功", [_FAMILY_WHO, "{family_package}，有效期至 {family_ends_on}"], _FAMILY),
    "family.declined": ("家庭医生签约申请未通过", [_FAMILY_WHO, "原因：{reason}"], _FAMILY),
    "family.followup_due": ("家庭医生随访提醒",
                            [_FAMILY_WHO, "请测量{vital_name}，于 {due_on} 前（含当天）上传，家庭医生会查看"], _FAMILY),
    "family.renewal_due": ("家庭医生签约即将到期", [_FAMILY_WHO, "有效期至 {family_ends_on}，现在可以续约"], _FAMILY),
    "family.expired": ("家庭医生签约已到期", [_FAMILY_WHO, "已于 {family_ends_on} 到期，可重新申请签约"], _FAMILY),
    "referral.booked": ("转诊预约成功", ["{patient} {hospital} {department}",
                                         "{visit_time} {queue_no}，地址：{hospital_address}"], _REFERRAL),
    "referral.declined": ("转诊未被接收", ["{patient} {referral_to}", "原因：{reason}"], _REFERRAL),
    "referral.cancelled": ("转诊已取消", ["{patient} {referral_to}", "原因：{reason}"], _REFERRAL),
    "referral.down_sent": ("已转回基层继续治疗", ["{patient} {referral_from} → {referral_to}", "方案：{plan}"],
                           _REFERRAL),
    "referral.down_accepted": ("基层医疗机构已接收转诊",
                               ["{patient} {referral_to}", "方案：{plan} {referral_followup}"], _REFERRAL),
}
CLINICAL = ("report.", "deposit.", "inpatient.", "homecare.", "credit.", "family.", "referral.")
WITHHELD = "您已不再是该就诊人的授权账户，内容不再显示"


def _delivery(row):
    """sent | pending | not_sent (WeChat refused it for good, or it was not sendable) | failed (retries used up)."""
    if row.status == "sent":
        return "not_sent" if (row.last_error or "").startswith("skipped") else "sent"
    return "failed" if row.status == "dead" else "pending"


def render(row, read_at, readable):
    """One message as the account reads it; `readable`: patient ids whose clinical data it may see."""
    payload = json.loads(row.payload)
    title, lines, path = EVENTS.get(row.event, ("消息通知", [], None))
    facts = _Blank(gather(payload))
    if row.event.startswith(CLINICAL) and payload.get("patient_id") not in readable:
        lines, path = [WITHHELD], None
    shown = [" ".join(line.format_map(facts).split()) for line in lines]
    return {"id": row.id, "event": row.event, "title": title, "lines": [line for line in shown if line],
            "path": path.format_map(facts) if path else None, "patient_id": payload.get("patient_id"),
            "created_at": row.created_at, "read": read_at is not None, "read_at": read_at,
            "delivery": _delivery(row)}


def _mine(account_id):
    return sa.and_(OutboxMessage.channel == CHANNEL, OutboxMessage.destination == account_id)


def list_messages(account_id, args):
    """The account's messages, newest first, with read state; returns (items, paging, unread count)."""
    stmt = (sa.select(OutboxMessage, MessageRead.read_at)
            .outerjoin(MessageRead, sa.and_(MessageRead.message_id == OutboxMessage.id,
                                            MessageRead.account_id == account_id))
            .where(_mine(account_id)))
    if args.get("unread"):
        stmt = stmt.where(MessageRead.message_id.is_(None))
    rows, paging = page(stmt, OutboxMessage.created_at, OutboxMessage.id, args)
    readable = set(db.session.scalars(verified_patient_ids(account_id)).all())
    unread = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).outerjoin(
        MessageRead, sa.and_(MessageRead.message_id == OutboxMessage.id, MessageRead.account_id == account_id))
        .where(_mine(account_id), MessageRead.message_id.is_(None)))
    return [render(row[0], row[1], readable) for row in rows], paging, unread


def mark_read(account_id, message_id, instant=None):
    """Mark one of the account's messages read (again is a no-op); 404 for anyone else's."""
    row = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id == message_id,
                                                            _mine(account_id))).first()
    if row is None:
        raise NotFound("未找到该消息", code="message_not_found")
    read = db.session.get(MessageRead, message_id)
    if read is None:
        try:
            with db.session.begin_nested():
                read = MessageRead(message_id=message_id, account_id=account_id, read_at=instant or now())
                db.session.add(read)
        except sa.exc.IntegrityError:  # the same message marked twice at once
            read = db.session.get(MessageRead, message_id)
    readable = set(db.session.scalars(verified_patient_ids(account_id)).all())
    return render(row, read.read_at, readable)
