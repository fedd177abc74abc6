"""Production is fail-safe: every unsafe setting alone stops start-up, and the safe set has no back doors."""
import pytest

from patient_api import create_app
from patient_api.config import DEV_WECHAT_SECRET, DEV_WECHAT_TOKEN

from .leakscan import problems

SAFE = {"ENV_NAME": "production", "WECHATPAY_MODE": "live", "DEV_LOGIN": False, "SMS_PROVIDER": "tencent",
        "WECHAT_TOKEN": "prod-token-from-the-mp-console", "WECHAT_SECRET": "0123456789abcdef0123456789abcdef",
        "WECHAT_ENCODING_AES_KEY": "a" * 43, "SECRET_KEY": "s" * 48, "DATA_KEY": "d" * 48,
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://app@127.0.0.1:5432/patient_api",
        "REDIS_URL": "redis://127.0.0.1:6379/0", "OPS_TOKEN": "ops-token-for-tests-only"}
UNSAFE = [("WECHATPAY_MODE", "sandbox", "WECHATPAY_MODE"), ("DEV_LOGIN", True, "DEV_LOGIN"),
          ("SMS_PROVIDER", "sandbox", "SMS_PROVIDER"), ("WECHAT_TOKEN", DEV_WECHAT_TOKEN, "WECHAT_TOKEN"),
          ("WECHAT_SECRET", DEV_WECHAT_SECRET, "WECHAT_SECRET"),
          ("WECHAT_ENCODING_AES_KEY", None, "WECHAT_ENCODING_AES_KEY"), ("SECRET_KEY", None, "SECRET_KEY"),
          ("SECRET_KEY", "short", "SECRET_KEY"), ("DATA_KEY", None, "DATA_KEY"),
          ("SQLALCHEMY_DATABASE_URI", "sqlite:///x.db", "DATABASE_URL"), ("REDIS_URL", None, "REDIS_URL"),
          ("STAFF_PASSWORD_HASH", "scrypt:1024:8:1", "STAFF_PASSWORD_HASH")]


@pytest.fixture(autouse=True)
def shared_redis(redis_client):
    """Extra apps must keep using the run's Redis: the handle is shared by every app of the process."""
    SAFE["REDIS_CLIENT"] = redis_client
    yield
    SAFE.pop("REDIS_CLIENT")


@pytest.mark.parametrize("name, value, named", UNSAFE, ids=[f"{n}={v}" for n, v, _ in UNSAFE])
def test_each_unsafe_setting_alone_stops_production(name, value, named, monkeypatch):
    monkeypatch.setenv("PATIENT_API_ENV", "production")
    with pytest.raises(RuntimeError) as refused:
        create_app({**SAFE, name: value})
    assert named in str(refused.value) and str(refused.value).count(";") == 0  # only the one problem


def test_the_safe_set_starts_without_sandbox_or_dev_login_and_guards_ops(monkeypatch):
    monkeypatch.setenv("PATIENT_API_ENV", "production")
    app = create_app(dict(SAFE))
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert not [r for r in rules if "sandbox" in r or "dev-login" in r]
    client = app.test_client()
    assert client.post("/api/v1/auth/dev-login", json={"openid": "x"}).status_code == 404
    for path in ("/metrics", "/api/docs"):
        assert client.get(path).status_code == 404
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 404
        assert client.get(path, headers={"Authorization": f"Bearer {SAFE['OPS_TOKEN']}"}).status_code == 200
    without_token = create_app({**SAFE, "OPS_TOKEN": None}).test_client()
    assert without_token.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_development_keys_are_generated_per_instance_never_constants(tmp_path, monkeypatch, redis_client):
    from patient_api import config
    monkeypatch.delenv("PATIENT_API_ENV", raising=False)
    keys = []
    for name in ("one", "two"):
        monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path / name)
        app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": None, "DATA_KEY": None,
                          "REDIS_CLIENT": redis_client})
        assert (tmp_path / name / "data_key.key").stat().st_mode & 0o077 == 0  # readable by the owner only
        assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "DATA_KEY": None,
                           "REDIS_CLIENT": redis_client}).config["DATA_KEY"] == \
            app.config["DATA_KEY"]  # a second process of the same instance decrypts the same data
        keys.append(app.config["DATA_KEY"])
    assert keys[0] != keys[1] and len(keys[0]) >= 48
    source = "".join(p.read_text() for p in (config.Path(config.__file__).parent).rglob("*.py"))
    assert "dev-data-key" not in source and "dev-secret-not-for-production" not in source


@pytest.mark.parametrize("text, leaks", [
    ('{"id_number": "370902198601010012"}', True), ('{"phone": "13800138000"}', True),
    ('{"id_number": "370***********0012"}', False), ('{"id_number": "370902********0012"}', True),
    ('{"id_number": "370***********0012", "birth_date": "1986-01-01"}', True),
    ('{"id_number": "370***********0012", "birth_date": "1986-01-01", "link_status": "verified", '
     '"relation": "self"}', False),
    ('{"phone": "138****8000", "out_trade_no": "PA2026112913800138000123"}', False)])
def test_the_response_scan_catches_full_and_completable_identifiers(text, leaks):
    assert bool(problems(text)) is leaks
