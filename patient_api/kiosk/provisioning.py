"""Provisioning a kiosk's browser: a one-time link from `kiosk register` that /kiosk/ trades for the credentials.

The link carries a random token in its fragment (#provision=…), so it never reaches a server log. Redis keeps only
the token's SHA-256 for 15 minutes; the first exchange deletes it (GET and DEL in one MULTI), so a link works once.
"""
import hashlib
import json
import secrets

import redis as redis_lib
from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..common import audit, crypto
from ..common.blueprint import Blueprint
from ..common.schemas import StrictSchema, Text
from ..directory.models import Hospital
from ..errors import ApiError, Unavailable
from ..extensions import db, redis
from .models import KioskDevice

TTL_SECONDS = 15 * 60
blp = Blueprint("kiosk_provisioning", __name__, description="Kiosks: setting up the kiosk browser (one-time link)")


def _key(token):
    return "kiosk:provision:" + hashlib.sha256(token.encode()).hexdigest()


def issue(device, base_url):
    """A one-time provisioning link for the device, valid 15 minutes."""
    token = secrets.token_urlsafe(32)
    try:
        redis.set(_key(token), json.dumps({"device_id": device.id}), ex=TTL_SECONDS)
    except redis_lib.RedisError as exc:
        raise Unavailable() from exc
    return f"{base_url.rstrip('/')}/kiosk/#provision={token}"


def redeem(token):
    """The device behind a provisioning token (the token is spent), or 410 provisioning_link_invalid."""
    try:
        with redis.pipeline() as pipe:  # MULTI: two kiosks opening the same link cannot both get the secret
            pipe.get(_key(token))
            pipe.delete(_key(token))
            stored, _ = pipe.execute()
    except redis_lib.RedisError as exc:
        raise Unavailable() from exc
    device = stored and db.session.get(KioskDevice, json.loads(stored)["device_id"])
    if not device or not device.active:
        raise ApiError("设置链接无效或已使用，请重新执行 kiosk register 生成", code="provisioning_link_invalid",
                       status=410)
    audit.record("kiosk", device.id, "kiosk.provisioned")
    return device


class ProvisionIn(StrictSchema):
    """The token from the link's fragment."""

    token = Text(required=True, validate=validate.Length(20, 100))


class ProvisionOut(Schema):
    """What the kiosk browser keeps: its device id and signing secret, and where it stands."""

    device_id = fields.String(required=True)
    secret = fields.String(required=True)
    name = fields.String(required=True)
    hospital_id = fields.String(required=True)
    hospital_name = fields.String(required=True)


@blp.route("/kiosk/provisioning")
class KioskProvisioning(MethodView):
    @blp.arguments(ProvisionIn())
    @blp.response(200, ProvisionOut)
    def post(self, body):
        """Trade a one-time provisioning token for the device's credentials (410 once used or expired)."""
        device = redeem(body["token"])
        hospital = db.session.get(Hospital, device.hospital_id)
        return {"device_id": device.id, "secret": crypto.decrypt(device.secret_enc), "name": device.name,
                "hospital_id": hospital.id, "hospital_name": hospital.name}


def default_base_url():
    """Where kiosks reach this service (PATIENT_API_PUBLIC_BASE_URL), for the link the CLI prints."""
    return current_app.config["PUBLIC_BASE_URL"]
