"""The sandbox's key-value store: a Protocol, a dict version for tests, and a Redis version for the app."""
import json
from typing import Protocol


class KeyValueStore(Protocol):
    """JSON-able dicts by string key; `add` (set if absent) is optional and used when present."""

    def get(self, key: str) -> dict | None:
        """The stored dict, or None."""

    def set(self, key: str, value: dict) -> None:
        """Store (or replace) a dict."""

    def keys(self, prefix: str) -> list[str]:
        """Every key that starts with prefix."""


class DictStore:
    """In-memory store for tests; values round-trip through JSON so nobody can rely on shared references."""

    def __init__(self):
        self._data = {}

    def get(self, key):
        """The stored dict, or None."""
        raw = self._data.get(key)
        return None if raw is None else json.loads(raw)

    def set(self, key, value):
        """Store (or replace) a dict."""
        self._data[key] = json.dumps(value, ensure_ascii=False)

    def add(self, key, value):
        """Store only if absent; True when stored."""
        if key in self._data:
            return False
        self.set(key, value)
        return True

    def keys(self, prefix):
        """Every key that starts with prefix, sorted."""
        return sorted(key for key in self._data if key.startswith(prefix))


class RedisStore:
    """A KeyValueStore on any redis-py client, so sandbox state is shared by every process and host."""

    # WeChat serves bills for three months; sandbox data older than that has no use.
    DEFAULT_TTL = 93 * 24 * 3600

    def __init__(self, redis_client, ttl_seconds=DEFAULT_TTL):
        self._redis = redis_client
        self._ttl = ttl_seconds

    def get(self, key):
        """The stored dict, or None."""
        raw = self._redis.get(key)
        return None if raw is None else json.loads(raw)

    def set(self, key, value):
        """Store (or replace) a dict."""
        self._redis.set(key, json.dumps(value, ensure_ascii=False), ex=self._ttl)

    def add(self, key, value):
        """Store only if absent (SET NX), so concurrent first writers agree on one value."""
        return bool(self._redis.set(key, json.dumps(value, ensure_ascii=False), ex=self._ttl, nx=True))

    def keys(self, prefix):
        """Every key that starts with prefix (SCAN, never KEYS, so a big Redis is not blocked)."""
        pattern = "".join("\\" + char if char in "*?[]\\" else char for char in prefix) + "*"
        found = (key.decode() if isinstance(key, bytes) else key for key in self._redis.scan_iter(match=pattern))
        return sorted(found)
