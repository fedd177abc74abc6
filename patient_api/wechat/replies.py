"""What the official account says back: welcome, keyword, menu-click and default texts with links into the H5 pages.

Everything here is static text plus configured URLs: a reply is ready in microseconds, well inside WeChat's 5 s.
"""
from flask import current_app
from wechatpy.oauth import WeChatOAuth
from wechatpy.replies import TextReply

PAGES = {  # intent → (H5 path, link text)
    "booking": ("/booking", "预约挂号"),
    "reports": ("/reports", "检验检查报告"),
    "bills": ("/bills", "门诊缴费"),
    "inpatient": ("/inpatient", "住院服务（预交金、每日清单、出院结算）"),
}
# Checked in this order: the more specific intent wins ("住院缴费" is inpatient, "检查缴费" is a bill).
KEYWORDS = (
    ("inpatient", ("住院", "押金", "预交金")),
    ("bills", ("缴费", "支付", "账单")),
    ("reports", ("报告", "检验", "检查")),
    ("booking", ("挂号", "预约")),
)
CLICKS = {"BOOK": "booking", "REPORTS": "reports", "BILLS": "bills", "INPATIENT": "inpatient", "HELP": None}
PROMPTS = {
    "booking": "点击进入{link}，选择医院、科室和医生即可预约，支持候补和取消。",
    "reports": "点击查看{link}，全市医院出具的报告都在这里。",
    "bills": "点击进入{link}，查看待缴费用并在线支付，支持医保结算。",
    "inpatient": "点击进入{link}，可缴纳预交金、查看每日费用清单并办理床旁结算。",
}


def page_url(intent):
    """The absolute URL of an intent's H5 page."""
    return current_app.config["WECHAT_H5_BASE_URL"].rstrip("/") + PAGES[intent][0]


def authorize_url(path, scope="snsapi_base", state=""):
    """WeChat's OAuth authorize URL that lands on an H5 path with a code (open.weixin.qq.com)."""
    config = current_app.config
    redirect = config["WECHAT_H5_BASE_URL"].rstrip("/") + path
    return WeChatOAuth(config["WECHAT_APPID"], config["WECHAT_SECRET"], redirect, scope, state).authorize_url


def link(intent):
    """A tappable link in a text reply (WeChat renders <a href> in official-account text)."""
    return f'<a href="{page_url(intent)}">{PAGES[intent][1]}</a>'


def menu_text():
    """All services, one per line."""
    return "\n".join(f"· {link(intent)}" for intent in PAGES)


def welcome():
    """Sent on subscribe."""
    return (f"感谢关注！在这里可以：\n{menu_text()}\n"
            "也可以直接回复“挂号”“报告”“缴费”“住院”快速进入。")


def help_text():
    """Sent for anything we do not understand, and for the HELP menu item."""
    return (f"您好，您可以点击下方菜单或以下链接办理：\n{menu_text()}\n"
            "回复“挂号”“报告”“缴费”“住院”也可快速进入。")


def intent_text(intent):
    """The answer for one intent: a short hint with its link."""
    return PROMPTS[intent].format(link=link(intent))


def intent_of(text):
    """The intent a text message asks for, or None."""
    text = (text or "").strip()
    for intent, words in KEYWORDS:
        if any(word in text for word in words):
            return intent
    return None


def content_for(message):
    """The text to answer `message` with, or None for no reply ("success")."""
    if message.type == "text":
        intent = intent_of(message.content)
        return intent_text(intent) if intent else help_text()
    if not _is_event(message):
        return help_text()  # images, voice, locations…: say what we can do
    event = message.event
    if event in ("subscribe", "subscribe_scan"):
        return welcome()
    if event == "click":
        key = (message.key or "").strip().upper()
        intent = CLICKS.get(key)
        return intent_text(intent) if intent else help_text()
    return None  # unsubscribe, VIEW, LOCATION, TEMPLATESENDJOBFINISH…: nothing to say (and nothing recorded)


def _is_event(message):
    # wechatpy types an event it has no class for as "unknown"; the raw MsgType still says "event".
    return message.type == "event" or str(message._data.get("MsgType", "")).lower() == "event"


def reply_to(message):
    """The reply XML (a wechatpy TextReply, To/From swapped), or None when there is nothing to say."""
    content = content_for(message)
    return TextReply(message=message, content=content).render() if content else None
