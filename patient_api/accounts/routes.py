"""Sign-in and 就诊人 management."""
from flask import current_app
from flask.views import MethodView
from wechatpy.oauth import WeChatOAuth

from ..common.auth import BEARER_DOC, bearer_token, current_account_id, end_session, resident_required
from ..common.blueprint import Blueprint
from ..common.idempotency import idempotent
from . import services
from .schemas import PatientIn, PatientListOut, PatientOut, TokenOut, WechatLoginIn

OAUTH_TIMEOUT = (3, 10)
blp = Blueprint("accounts", __name__, description="Resident sign-in and patients (就诊人)")


class _TimedOAuth(WeChatOAuth):
    """wechatpy's OAuth client with a timeout: it sets none, and a hung WeChat call would hold a worker."""

    def _request(self, method, url_or_endpoint, **kwargs):
        kwargs.setdefault("timeout", OAUTH_TIMEOUT)
        return super()._request(method, url_or_endpoint, **kwargs)


def _oauth(config):
    oauth = _TimedOAuth(config["WECHAT_APPID"], config["WECHAT_SECRET"], redirect_uri="")
    oauth.API_BASE_URL = config["WECHAT_API_BASE"].rstrip("/") + "/"
    return oauth


def _token(pair):
    token, ttl = pair
    return {"token": token, "expires_in": ttl}


@blp.route("/auth/wechat")
class WechatLogin(MethodView):
    @blp.arguments(WechatLoginIn())
    @blp.response(200, TokenOut)
    def post(self, body):
        """Exchange a WeChat OAuth code for a session (snsapi_base, or snsapi_userinfo for the unionid)."""
        return _token(services.sign_in_with_wechat_code(body["code"], _oauth(current_app.config)))


@blp.route("/auth/logout")
class Logout(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(204)
    def post(self):
        """End this session."""
        end_session(bearer_token())


@blp.route("/me/patients")
class Patients(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, PatientListOut)
    def get(self):
        """The account's 就诊人."""
        return {"items": services.linked_patients(current_account_id())}

    @resident_required
    @idempotent(current_account_id)
    @blp.doc(**BEARER_DOC)
    @blp.arguments(PatientIn())
    @blp.response(201, PatientOut)
    def post(self, body):
        """Add a 就诊人 (or link a family member already known by ID number)."""
        return services.add_patient(current_account_id(), **body)


@blp.route("/me/patients/<id:patient_id>")
class PatientItem(MethodView):
    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(200, PatientOut)
    def get(self, patient_id):
        """One of the account's 就诊人."""
        return services.link_for(current_account_id(), patient_id)

    @resident_required
    @blp.doc(**BEARER_DOC)
    @blp.response(204)
    def delete(self, patient_id):
        """Unlink a 就诊人 from this account."""
        services.remove_patient(current_account_id(), patient_id)
