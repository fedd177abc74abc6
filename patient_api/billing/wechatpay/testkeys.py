"""TEST-ONLY key material: fresh throwaway keys for tests and the sandbox; never written to files or commits."""
import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .crypto import random_nonce
from .settings import SANDBOX_APPID, SANDBOX_MCHID, SANDBOX_NOTIFY_URL, WechatPaySettings


def generate_test_keys():
    """TEST ONLY: a new merchant key pair, platform key pair, APIv3 key, cert serial and public key id."""
    merchant_private, merchant_public = _rsa_pair()
    platform_private, platform_public = _rsa_pair()
    return {
        "test_only": True,
        "merchant_private_key_pem": merchant_private,
        "merchant_public_key_pem": merchant_public,
        "merchant_cert_serial_no": "TEST" + secrets.token_hex(18).upper(),
        "platform_private_key_pem": platform_private,
        "platform_public_key_pem": platform_public,
        "platform_public_key_id": "PUB_KEY_ID_TEST" + secrets.token_hex(8).upper(),
        "apiv3_key": random_nonce(32),
    }


def settings_from_keys(keys, mode="sandbox", mchid=SANDBOX_MCHID, appid=SANDBOX_APPID, notify_url=SANDBOX_NOTIFY_URL):
    """TEST ONLY: WechatPaySettings wired to generate_test_keys() output."""
    return WechatPaySettings(
        mchid=mchid, appid=appid, apiv3_key=keys["apiv3_key"],
        merchant_private_key_pem=keys["merchant_private_key_pem"],
        merchant_cert_serial_no=keys["merchant_cert_serial_no"],
        platform_public_key_pem=keys["platform_public_key_pem"],
        platform_public_key_id=keys["platform_public_key_id"],
        notify_url=notify_url, mode=mode)


def _rsa_pair():
    """A 2048-bit RSA key pair as (PKCS#8 private PEM, SPKI public PEM), the forms WeChat hands out."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public
