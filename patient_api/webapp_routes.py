"""What the web apps ask the backend about itself: which sign-in and payment modes it offers, whose session this is."""
from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields

from .common.auth import BEARER_DOC, current_account_id, resident_required
from .common.blueprint import Blueprint

blp = Blueprint("webapps", __name__, description="Set-up of the web apps (/h5/, later /staff/ and /kiosk/)")


class AppConfigOut(Schema):
    """What this backend offers the apps."""

    dev_login = fields.Boolean(required=True, metadata={"description": "POST /auth/dev-login is on"})
    sandbox_pay = fields.Boolean(required=True, metadata={"description": "WeChat Pay runs in the local sandbox"})
    wechat_appid = fields.String(required=True, metadata={"description": "The official account's appid"})


class SessionOut(Schema):
    """The signed-in resident's account (an opaque id the apps key their remembered choices by)."""

    account_id = fields.String(required=True)


@blp.route("/app-config")
class AppConfig(MethodView):
    @blp.response(200, AppConfigOut)
    def get(self):
        """Which sign-in and payment modes this backend offers (no sign-in needed)."""
        config = current_app.config
        return {"dev_login": bool(config["DEV_LOGIN"]), "sandbox_pay": config["WECHATPAY_MODE"] == "sandbox",
                "wechat_appid": config["WECHAT_APPID"]}


@blp.route("/auth/session")
class Session(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, SessionOut)
    def get(self):
        """The account behind this resident session."""
        return {"account_id": current_account_id()}
