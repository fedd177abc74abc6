"""patient_api: the app factory."""
import logging

from flask import Flask, jsonify, send_from_directory
from flask.sessions import SessionInterface
from sqlalchemy import event, text

from . import errors
from .common import jsonio, keepalive, liveness, nostore, observability, zh_messages  # noqa: F401  (zh_messages: before any schema module is imported)
from .common.blueprint import register_id_converter
from .config import config_from_env, generated_key, running_demo_redis
from .extensions import api, db, migrate, redis
from .webapps import register_webapps

log = logging.getLogger("patient_api")


def create_app(config=None):
    """Build the Flask app; `config` is a config class or a dict of overrides."""
    app = Flask(__name__, static_folder="../static", static_url_path="/static")
    app.json = jsonio.FastJSONProvider(app)
    app.json.ensure_ascii = False  # Chinese as UTF-8 text: a third of the bytes of \u escapes, readable in logs
    config_class = config_from_env()
    app.config.from_object(config_class)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    if app.config["ENV_NAME"] == "production":
        config_class.check(app.config)
    else:
        for name in ("SECRET_KEY", "DATA_KEY"):  # development and tests never use a key written in the source
            if not app.config.get(name):
                app.config[name] = generated_key(name.lower())
        if app.config["ENV_NAME"] == "development" and not app.config.get("REDIS_URL"):
            # A second terminal's CLI must share the running demo's Redis, not start an embedded one of its own.
            app.config["REDIS_URL"] = running_demo_redis(app.config["DEMO_REDIS_SOCKET"])
    observability.setup_logging(app.config.get("LOG_LEVEL", "INFO"))
    from .directory.pools import check_defaults
    from .family import pools as family_pools  # noqa: F401  registers family_team before the defaults are checked
    check_defaults(app.config["BOOKING_POOLS"])  # a mistyped 号源预留 default must stop the start, not a booking

    db.init_app(app)
    migrate.init_app(app, db, directory=app.config.get("MIGRATIONS_DIR", _migrations_dir()))
    redis.init_app(app)
    with app.app_context():
        _tune_sqlite()
        liveness.watch(db.engine)
    api.init_app(app, spec_kwargs={"components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer"},
        "hospitalKey": {"type": "http", "scheme": "bearer", "description": "per-hospital integration key"}}}})
    register_id_converter(app, api)
    _register_subscribers()
    _register_blueprints(app)
    errors.register(app)
    _register_request_cycle(app)
    _register_ops(app)
    register_webapps(app)
    _register_cli(app)
    from .billing import edge as billing_edge
    from .booking import edge as booking_edge
    from .directory import edge as directory_edge
    from .results import edge as results_edge
    # Last: they read the URL map for what they answer.
    for edge in (directory_edge, booking_edge, billing_edge, results_edge):
        edge.install(app)
    return app


def _migrations_dir():
    from pathlib import Path
    return str(Path(__file__).resolve().parent.parent / "migrations")


def _tune_sqlite():
    """SQLite: WAL so readers never block the writer, a busy timeout instead of instant 'locked'."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _register_subscribers():
    """Features plug into each other on import (bill kinds, event subscribers); every process (web, worker, CLI)
    needs them, whichever routes or jobs it loads. See docs/events.md."""
    from .booking import fees  # noqa: F401  the registration fee's bill kind
    from .credit import bills, contracts  # noqa: F401  bill.issued/closed, PAPAY.*, the credit_settlement kind
    from .credit import refunds as credit_refunds  # noqa: F401  HIS refunds of bills paid through a settlement
    from .family import followups  # noqa: F401  vital.recorded → a follow-up period done
    from .family import referrals as family_referrals  # noqa: F401  referral.down_accepted → a follow-up plan
    from .homecare import fees as homecare_fees  # noqa: F401  the home visit's bill kind
    from .inpatient import deposits, settlement  # noqa: F401  deposit and settlement bill kinds
    from .integration import webhooks  # noqa: F401  bill.paid / bill.refunded → hospital callbacks
    from .referrals import booking as referral_booking  # noqa: F401  appointment.cancelled → the referral reopens
    from .results import queries  # noqa: F401  hospital-measured vitals in the health record's summary
    from .wechat import money  # noqa: F401  bill.paid / refund.succeeded → payment.received, refund.done


def _register_blueprints(app):
    from .accounts.identity_routes import blp as identity
    from .accounts.routes import blp as accounts
    from .accounts.staff_routes import blp as staff
    from .billing.routes import blp as billing
    from .booking.routes import blp as booking
    from .booking.staff_routes import blp as booking_staff
    from .credit.policy_routes import blp as credit_policy
    from .credit.routes import blp as credit
    from .credit.staff_routes import blp as credit_staff
    from .directory.routes import blp as directory
    from .family.routes import blp as family
    from .family.staff_routes import blp as family_staff
    from .homecare.routes import blp as homecare
    from .homecare.staff_routes import blp as homecare_staff
    from .inpatient.his_routes import blp as integration_inpatient
    from .inpatient.results_routes import blp as nurse_station_results
    from .inpatient.routes import blp as inpatient
    from .inpatient.staff_routes import blp as nurse_station
    from .integration.fhir_routes import blp as integration_fhir
    from .integration.hl7_routes import blp as integration_hl7
    from .integration.records_routes import blp as integration_records
    from .integration.routes import blp as integration
    from .kiosk.binding_routes import blp as kiosk_binding
    from .kiosk.provisioning import blp as kiosk_provisioning
    from .kiosk.routes import blp as kiosk
    from .records.routes import blp as records_blp
    from .referrals.routes import blp as referrals
    from .referrals.staff_routes import blp as referrals_staff
    from .results.routes import blp as results_blp
    from .wechat.inbox_routes import blp as messages
    from .wechat.routes import blp as wechat
    for blueprint in (accounts, identity, staff, directory, booking, billing, inpatient, nurse_station, results_blp,
                      records_blp, integration, integration_inpatient, integration_fhir, integration_hl7, wechat,
                      messages, kiosk, kiosk_binding, kiosk_provisioning, integration_records,
                      nurse_station_results, homecare, homecare_staff, credit, credit_staff, credit_policy,
                      booking_staff, family, family_staff, referrals, referrals_staff):
        api.register_blueprint(blueprint, url_prefix="/api/v1")
    if app.config["WECHATPAY_MODE"] == "sandbox" and app.config["ENV_NAME"] in ("development", "test"):
        from .billing.sandbox_routes import blp as sandbox  # never outside development and tests
        api.register_blueprint(sandbox, url_prefix="/api/v1")
    if app.config["ENV_NAME"] in ("development", "test"):
        from .accounts.dev_routes import blp as dev_login
        api.register_blueprint(dev_login, url_prefix="/api/v1")


class NoCookieSessions(SessionInterface):
    """Sessions are bearer tokens in Redis (common/auth.py); Flask's cookie session is never used, so no request
    builds its cookie signer."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


def _register_request_cycle(app):
    """One transaction per request: commit on success, roll back on any error answer."""
    app.session_interface = NoCookieSessions()
    app.before_request(observability.before_request)
    app.after_request(observability.after_request)  # registered first, so it runs last
    app.after_request(keepalive.settle_unread_body)
    app.after_request(nostore.no_store)

    @app.after_request
    def finish_transaction(response):
        if not db.session.registry.has():  # the request never touched the database
            return response
        if response.status_code >= 400:
            db.session.rollback()
            return response
        try:
            db.session.commit()
        except Exception:  # the write did not happen: say so instead of a false success
            db.session.rollback()
            log.exception("commit failed")
            return errors.envelope(503, "commit_failed", "保存失败，请重试")
        return response


def _register_ops(app):
    """Health, readiness, metrics and the locally served Swagger UI assets."""
    import swagger_ui_bundle

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        checks = {}
        try:
            db.session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception:  # readiness reports, it never raises
            checks["database"] = "down"
        try:
            redis.ping()
            checks["redis"] = "ok"
        except Exception:
            checks["redis"] = "down"
        ready = all(v == "ok" for v in checks.values())
        return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503

    app.add_url_rule("/metrics", "metrics", observability.metrics_view)
    if app.config["ENV_NAME"] == "production":
        app.before_request(_ops_token_required)

    @app.get("/api/docs/assets/<path:filename>")
    def swagger_assets(filename):
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)


OPS_PATHS = ("/metrics", "/api/docs")


def _ops_token_required():
    """Production: metrics and the Swagger UI answer only to PATIENT_API_OPS_TOKEN (and not at all without one)."""
    import hmac

    from flask import current_app, request
    if not request.path.startswith(OPS_PATHS):
        return None
    expected = current_app.config.get("OPS_TOKEN")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        return errors.envelope(404, "not_found", "未找到该资源")
    return None


def _register_cli(app):
    from .cli import register
    register(app)
