"""WeChat official-account endpoints: the server callback, the JS-SDK signature and the OAuth authorize URL."""
import re

import redis as redis_lib
from flask import Response, request
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates

from ..common.blueprint import Blueprint
from ..common.schemas import ErrorSchema, StrictSchema, Text
from ..errors import Unavailable
from . import callback, jssdk, replies
from .token import WeChatError

blp = Blueprint("wechat", __name__, description="WeChat official account: callback, JS-SDK, OAuth")

H5_PATH = re.compile(r"^/(?!/)[A-Za-z0-9/_.~%?=&-]*$")  # a path on the H5 host: never another host
PLAIN = {"text/plain": {"schema": {"type": "string"}}}
QUERY = [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": text}
         for name, text in (("signature", "sha1 of the sorted token, timestamp and nonce"),
                            ("timestamp", "Unix seconds; more than 5 minutes off is refused"),
                            ("nonce", "random string"), ("openid", "the sender (POST)"),
                            ("echostr", "echoed back on a valid GET"),
                            ("encrypt_type", "aes in safe mode"), ("msg_signature", "safe mode: covers Encrypt"))]
ABOUT = "WeChat's server calls this, not a client: XML in, XML or plain text out (not JSON)."
VERIFY_DOC = {"description": ABOUT, "parameters": QUERY, "responses": {
    "200": {"description": "The echostr, when the signature is ours", "content": PLAIN},
    "400": {"description": "No echostr", "content": PLAIN},
    "403": {"description": "Bad signature", "content": PLAIN}}}
MESSAGE_DOC = {"description": ABOUT, "parameters": QUERY, "requestBody": {
    "required": False, "description": "WeChat message XML (<xml><Encrypt>… in safe mode)",
    "content": {"text/xml": {"schema": {"type": "string"}}}}, "responses": {
    "200": {"description": "Reply XML (encrypted in safe mode), or `success` when there is nothing to say "
                           "or the message is a retry already handled",
            "content": {"text/xml": {"schema": {"type": "string"}}, **PLAIN}},
    "400": {"description": "Not a readable WeChat message", "content": PLAIN},
    "403": {"description": "Bad signature or msg_signature, or a stale timestamp", "content": PLAIN},
    "503": {"description": "Safe mode is not configured, or the reply failed (WeChat retries)", "content": PLAIN}}}


def _text(body, status=200, content_type="text/plain; charset=utf-8"):
    return Response(body, status, content_type=content_type)


@blp.route("/wechat/callback")
class Callback(MethodView):
    @blp.doc(**VERIFY_DOC)
    def get(self):
        """WeChat checks the server URL: echostr back when the signature is ours, else 403."""
        try:
            return _text(callback.verify_server(request.args))
        except callback.Refused as refused:
            return _text(refused.reason, refused.status)

    @blp.doc(**MESSAGE_DOC)
    def post(self):
        """A message or event from WeChat, plaintext or safe mode; answered at once, retries answered `success`."""
        try:
            answer = callback.handle(request.args, request.get_data(cache=False))
        except callback.Refused as refused:
            return _text(refused.reason, refused.status)
        if answer == callback.SUCCESS:
            return _text(answer)
        return _text(answer, content_type="text/xml; charset=utf-8")


class JssdkQuery(StrictSchema):
    """The page that will call wx.config."""

    url = Text(required=True, validate=validate.Length(1, 1024),
               metadata={"description": "The page's location.href; must be on the H5 host"})

    @validates("url")
    def check_host(self, value, **_):
        """Only our own H5 pages get a signature."""
        if not jssdk.on_h5_host(value):
            raise ValidationError("只能为本服务的 H5 页面签名")


class JssdkConfigOut(Schema):
    """wx.config({...}) parameters."""

    appId = fields.String(required=True)  # noqa: N815 (WeChat's names)
    timestamp = fields.Integer(required=True)
    nonceStr = fields.String(required=True)  # noqa: N815
    signature = fields.String(required=True)
    jsApiList = fields.List(fields.String(), required=True)  # noqa: N815


@blp.route("/wechat/jssdk-config")
class JssdkConfig(MethodView):
    @blp.arguments(JssdkQuery(), location="query")
    @blp.response(200, JssdkConfigOut)
    @blp.alt_response(503, schema=ErrorSchema, description="WeChat did not hand out a jsapi_ticket")
    def get(self, args):
        """JS-SDK config for an H5 page (signature per WeChat's JS-SDK spec)."""
        try:
            return jssdk.config_for(args["url"])
        except (WeChatError, redis_lib.RedisError) as exc:
            raise Unavailable("微信服务暂时不可用，请稍后再试", code="wechat_unavailable") from exc


class AuthorizeQuery(StrictSchema):
    """Where WeChat should send the resident back with a code."""

    scope = Text(load_default="snsapi_base", validate=validate.OneOf(("snsapi_base", "snsapi_userinfo")))
    state = Text(load_default="", validate=validate.Regexp(r"^[A-Za-z0-9]{0,128}$"),
                 metadata={"description": "Echoed back on the redirect (a-z A-Z 0-9, at most 128)"})
    redirect = Text(load_default="/", validate=[validate.Length(1, 512), validate.Regexp(H5_PATH)],
                    metadata={"description": "An H5 path such as /booking"})


class AuthorizeOut(Schema):
    """The open.weixin.qq.com authorize URL."""

    url = fields.String(required=True)


@blp.route("/auth/wechat/authorize-url")
class AuthorizeUrl(MethodView):
    @blp.arguments(AuthorizeQuery(), location="query")
    @blp.response(200, AuthorizeOut)
    def get(self, args):
        """WeChat OAuth: snsapi_base (silent) or snsapi_userinfo (asks); the code then goes to POST /auth/wechat."""
        return {"url": replies.authorize_url(args["redirect"], args["scope"], args["state"])}
