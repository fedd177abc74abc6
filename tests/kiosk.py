"""A test kiosk: registered through the CLI, signing every request like the real device."""
import json
import secrets
import time

from patient_api.kiosk.signing import sign

from .factories import hospital_key


class Kiosk:
    """Signs requests with its device secret; `token` is the current card session."""

    def __init__(self, app, client, code="H1", name="门诊大厅1号机"):
        hospital_key(app, code)  # makes the hospital exist
        result = app.test_cli_runner().invoke(args=["kiosk", "register", "--hospital", code, "--name", name])
        assert result.exit_code == 0, result.output
        self.device_id, self.secret = result.output.strip().splitlines()[-1].split()
        self.app, self.client, self.token = app, client, None

    def headers(self, method, path, body=b"", stamp=None, nonce=None, secret=None):
        """The four signing headers for one request."""
        stamp = str(int(time.time()) if stamp is None else stamp)
        nonce = nonce or secrets.token_urlsafe(16)
        return {"X-Kiosk-Device": self.device_id, "X-Kiosk-Timestamp": stamp, "X-Kiosk-Nonce": nonce,
                "X-Kiosk-Signature": sign(secret or self.secret, method, path, stamp, nonce, body)}

    def call(self, method, path, body=None, token=None, **signing):
        """A signed request carrying the session token (if any)."""
        raw = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
        headers = self.headers(method, path, raw, **signing)
        if raw:
            headers["Content-Type"] = "application/json"
        token = token or self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open(path, method=method, data=raw, headers=headers)

    def insurance_card_on_file(self, id_number, card_number):
        """What the insurance platform reports: this card belongs to that person (flask insurance card)."""
        result = self.app.test_cli_runner().invoke(args=["insurance", "card", "--id-number", id_number,
                                                         "--card-number", card_number])
        assert result.exit_code == 0, result.output

    def card(self, **read):
        """Read a card and keep the session token; returns the response."""
        response = self.call("POST", "/api/v1/kiosk/sessions", read)
        if response.status_code == 201:
            self.token = response.json["token"]
        return response
