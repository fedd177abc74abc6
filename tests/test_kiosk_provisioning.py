"""Setting up a kiosk browser with the one-time link `kiosk register` prints, and the shared signing vectors."""
import hashlib
import hmac
import json
from pathlib import Path

import pytest

from patient_api.kiosk.signing import sign, string_to_sign

from .factories import hospital_key

VECTORS = json.loads((Path(__file__).parent / "kiosk_signing_vectors.json").read_text(encoding="utf-8"))["vectors"]
PROVISION = "/api/v1/kiosk/provisioning"


def register(app, *extra):
    """`kiosk register` through the CLI: (provisioning link, device id, secret)."""
    hospital_key(app, "H1")
    result = app.test_cli_runner().invoke(
        args=["kiosk", "register", "--hospital", "H1", "--name", "门诊大厅1号机", *extra])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    link = next(line for line in lines if "#provision=" in line)
    device_id, secret = lines[-1].split()
    return link, device_id, secret


def test_the_link_is_traded_once_for_the_device_credentials(app, client, redis_client):
    link, device_id, secret = register(app, "--base-url", "https://kiosk.example.cn/")
    assert link.startswith("https://kiosk.example.cn/kiosk/#provision=")
    token = link.split("#provision=")[1]
    assert not [key for key in redis_client.keys("kiosk:provision:*") if token.encode() in key]  # stored hashed
    answer = client.post(PROVISION, json={"token": token})
    assert answer.status_code == 200, answer.json
    assert answer.json == {"device_id": device_id, "secret": secret, "name": "门诊大厅1号机",
                           "hospital_id": answer.json["hospital_id"], "hospital_name": answer.json["hospital_name"]}
    again = client.post(PROVISION, json={"token": token})
    assert again.status_code == 410 and again.json["code"] == "provisioning_link_invalid"


def test_an_unknown_expired_or_disabled_link_gives_nothing(app, client, redis_client):
    assert client.post(PROVISION, json={"token": "x" * 43}).status_code == 410
    assert client.post(PROVISION, json={"token": "short"}).status_code == 422
    link, device_id, _ = register(app)
    assert 890 <= max(redis_client.ttl(key) for key in redis_client.keys("kiosk:provision:*")) <= 900
    app.test_cli_runner().invoke(args=["kiosk", "disable", device_id])
    assert client.post(PROVISION, json={"token": link.split("#provision=")[1]}).status_code == 410


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['method']} {v['path']}")
def test_shared_signing_vectors(vector):
    """The same file is checked in Chromium against frontend/kiosk/src/signing.js (tests/browser/test_kiosk_app.py)."""
    body = vector["body"].encode("utf-8")
    assert hashlib.sha256(body).hexdigest() == vector["body_sha256"]
    message = string_to_sign(vector["method"], vector["path"], vector["timestamp"], vector["nonce"], body)
    assert message == vector["string_to_sign"]
    assert sign(vector["secret"], vector["method"], vector["path"], vector["timestamp"], vector["nonce"], body) \
        == vector["signature"] == hmac.new(vector["secret"].encode(), message.encode(), hashlib.sha256).hexdigest()
