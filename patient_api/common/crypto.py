"""Personal data at rest: AES-256-GCM encryption and an HMAC blind index for look-ups."""
import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app


def _derive(purpose):
    """Separate keys for encryption and indexing, derived from PATIENT_API_DATA_KEY."""
    secret = current_app.config["DATA_KEY"].encode()
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def encrypt(plaintext):
    """Encrypt a short string; output is 'v1:' + base64(nonce + ciphertext + tag)."""
    if plaintext is None:
        return None
    nonce = os.urandom(12)
    sealed = AESGCM(_derive("encrypt:v1")).encrypt(nonce, plaintext.encode(), b"patient_api")
    return "v1:" + base64.b64encode(nonce + sealed).decode()


def decrypt(token):
    """Reverse encrypt(); raises if the data was tampered with."""
    if token is None:
        return None
    raw = base64.b64decode(token.split(":", 1)[1])
    return AESGCM(_derive("encrypt:v1")).decrypt(raw[:12], raw[12:], b"patient_api").decode()


def blind_index(value):
    """Deterministic keyed hash so equal values can be found without decrypting."""
    return hmac.new(_derive("index:v1"), value.upper().encode(), hashlib.sha256).hexdigest()
