"""Opaque string ids: a short type prefix and 20 random base32 characters."""
import base64
import secrets


def new_id(prefix):
    """A new random id such as 'apt_3k2m...'; never sequential, so callers cannot walk them."""
    raw = base64.b32encode(secrets.token_bytes(12)).decode().rstrip("=").lower()
    return f"{prefix}_{raw}"
