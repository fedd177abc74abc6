"""Hospital systems (HIS/LIS/PACS) sign in with a per-hospital key: `Authorization: Bearer <key>`."""
import functools
import hashlib
import hmac
import secrets

from flask import g
from sqlalchemy import select

from ..common import crypto
from ..common.auth import bearer_token
from ..directory.models import Hospital
from ..errors import Unauthorized
from ..extensions import db

HOSPITAL_DOC = {"security": [{"hospitalKey": []}]}


def key_hash(key):
    """Keys are looked up by hash; the key itself is kept only encrypted (it signs our webhooks)."""
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(hospital):
    """A new key for the hospital (the old one stops working); returned once."""
    key = "hk_" + secrets.token_urlsafe(32)
    hospital.integration_key_hash = key_hash(key)
    hospital.integration_key_enc = crypto.encrypt(key)
    return key


def current_hospital():
    """The hospital whose key signed this request; 401 otherwise."""
    if "hospital" not in g:
        token = bearer_token()
        hospital = token and db.session.scalars(
            select(Hospital).filter_by(integration_key_hash=key_hash(token))).first()
        if not hospital:
            raise Unauthorized("医院接口密钥无效", code="invalid_hospital_key")
        g.hospital = hospital
    return g.hospital


def hospital_required(view):
    """Decorator: the view runs only for an authenticated hospital system."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        current_hospital()
        return view(*args, **kwargs)
    return wrapper


def webhook_signature(hospital, body: bytes):
    """X-Signature for a callback: hex HMAC-SHA256 of the body with the hospital's key."""
    key = crypto.decrypt(hospital.integration_key_enc).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()
