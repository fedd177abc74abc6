"""Development sign-in: registered only in development and tests, and answers only with PATIENT_API_DEV_LOGIN=1."""
from flask import current_app
from flask.views import MethodView

from ..common.blueprint import Blueprint
from ..errors import NotFound
from . import services
from .schemas import DevLoginIn, TokenOut

blp = Blueprint("dev_login", __name__, description="Development sign-in (never in production)")


@blp.route("/auth/dev-login")
class DevLogin(MethodView):
    @blp.arguments(DevLoginIn())
    @blp.response(200, TokenOut)
    def post(self, body):
        """Sign in as any openid; only when PATIENT_API_DEV_LOGIN=1."""
        if not current_app.config["DEV_LOGIN"]:
            raise NotFound()
        token, ttl = services.sign_in(body["openid"])
        return {"token": token, "expires_in": ttl}
