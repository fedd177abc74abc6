"""JS-SDK config for the H5 pages: wx.config's signature over jsapi_ticket, noncestr, timestamp and url."""
import secrets
import time
from urllib.parse import urlsplit

from flask import current_app
from wechatpy.client.api.jsapi import WeChatJSAPI

from .token import jsapi_ticket

# What the H5 pages call: sharing, WeChat Pay, scanning a visit QR code, hospital maps, closing the page.
JS_API_LIST = ("updateAppMessageShareData", "updateTimelineShareData", "chooseWXPay", "scanQRCode",
               "getLocation", "openLocation", "closeWindow")


def signature(ticket, noncestr, timestamp, url):
    """WeChat's sha1 of "jsapi_ticket=…&noncestr=…&timestamp=…&url=…" (keys in ASCII order), by wechatpy."""
    return WeChatJSAPI().get_jsapi_signature(noncestr, ticket, timestamp, url)


def page_url(url):
    """The URL WeChat signs: the page's address without its #fragment (JS-SDK spec)."""
    return url.split("#", 1)[0]


def on_h5_host(url):
    """True when `url` is an http(s) page on WECHAT_H5_BASE_URL's host (scheme-insensitive, port included)."""
    try:
        page, h5 = urlsplit(url), urlsplit(current_app.config["WECHAT_H5_BASE_URL"])
    except ValueError:
        return False
    return page.scheme in ("http", "https") and bool(page.netloc) and page.netloc.lower() == h5.netloc.lower()


def config_for(url):
    """The wx.config parameters for a page of ours; the ticket comes from the shared Redis cache."""
    url = page_url(url)
    noncestr, timestamp = secrets.token_hex(8), int(time.time())
    return {"appId": current_app.config["WECHAT_APPID"], "timestamp": timestamp, "nonceStr": noncestr,
            "signature": signature(jsapi_ticket(), noncestr, timestamp, url), "jsApiList": list(JS_API_LIST)}
