"""RSA-SHA256 signatures and AEAD_AES_256_GCM, the two primitives of WeChat Pay API v3."""
import base64
import binascii
import secrets
import string
from functools import lru_cache

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ALPHANUM = string.ascii_letters + string.digits


def random_nonce(length=32):
    """A random alphanumeric string (WeChat nonces are 32 chars; AEAD nonces 12)."""
    return "".join(secrets.choice(ALPHANUM) for _ in range(length))


@lru_cache(maxsize=16)
def load_private_key(pem):
    """Parse an RSA private key from PEM text (cached: parsing checks the key and is slow)."""
    try:
        key = serialization.load_pem_private_key(_pem_bytes(pem), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError("not a PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("WeChat Pay keys are RSA keys")
    return key


@lru_cache(maxsize=16)
def load_public_key(pem):
    """Parse an RSA public key from PEM text (a bare base64 body is accepted too)."""
    text = pem if "-----BEGIN" in pem else f"-----BEGIN PUBLIC KEY-----\n{pem.strip()}\n-----END PUBLIC KEY-----\n"
    try:
        key = serialization.load_pem_public_key(_pem_bytes(text))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError("not a PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("WeChat Pay keys are RSA keys")
    return key


def _pem_bytes(pem):
    """PEM text as bytes; env vars often carry literal backslash-n instead of newlines."""
    return pem.replace("\\n", "\n").encode("ascii")


def private_key_pkcs8(pem):
    """The private key re-encoded as PKCS#8 PEM, the only form wechatpayv3 parses."""
    return load_private_key(pem).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def public_key_spki(pem):
    """The public key re-encoded as SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY")."""
    return load_public_key(pem).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_key_of(private_key_pem):
    """The SPKI PEM public half of a private key."""
    return load_private_key(private_key_pem).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign_message(private_key_pem, message):
    """Base64 SHA256-with-RSA (PKCS#1 v1.5) signature of a str or bytes message."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    signature = load_private_key(private_key_pem).sign(data, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_signature(public_key_pem, message, signature_b64):
    """True when signature_b64 is a valid SHA256-with-RSA signature of message; False for any malformed input."""
    try:
        data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        signature = base64.b64decode(signature_b64, validate=True)
    except (ValueError, TypeError):  # bad base64 (binascii.Error is a ValueError) or unencodable text
        return False
    try:
        load_public_key(public_key_pem).verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def aead_encrypt(apiv3_key, nonce, plaintext, associated_data):
    """AEAD_AES_256_GCM-encrypt plaintext bytes; returns base64(ciphertext || tag) as WeChat sends it."""
    sealed = AESGCM(_key_bytes(apiv3_key)).encrypt(nonce.encode("utf-8"), plaintext, _ad(associated_data))
    return base64.b64encode(sealed).decode("ascii")


def aead_decrypt(apiv3_key, nonce, ciphertext_b64, associated_data):
    """Decrypt a WeChat AEAD_AES_256_GCM resource; raises ValueError if malformed or not authentic."""
    key = _key_bytes(apiv3_key)
    try:
        sealed = base64.b64decode(ciphertext_b64, validate=True)
        return AESGCM(key).decrypt(nonce.encode("utf-8"), sealed, _ad(associated_data))
    except InvalidTag as exc:  # wrong key, tampered ciphertext, or wrong associated data
        raise ValueError("ciphertext does not authenticate") from exc
    except (binascii.Error, TypeError, UnicodeError, AttributeError) as exc:
        raise ValueError(f"malformed ciphertext: {exc}") from exc


def _key_bytes(apiv3_key):
    """The APIv3 key as 32 raw bytes (it is a 32-character string in the merchant console)."""
    key = apiv3_key.encode("utf-8") if isinstance(apiv3_key, str) else bytes(apiv3_key)
    if len(key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes")
    return key


def _ad(associated_data):
    """Associated data as bytes; WeChat may send it empty or omit it."""
    return (associated_data or "").encode("utf-8")
