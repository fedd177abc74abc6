"""Configuration classes; every value can come from the environment (PATIENT_API_*)."""
import os
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("PATIENT_API_INSTANCE_DIR", Path.cwd() / "instance"))
# Development-only fallbacks: ProdConfig refuses to start with any of these.
DEV_SECRET = "dev-secret-not-for-production"
DEV_DATA_KEY = "dev-data-key-not-for-production"


def env(name, default=None):
    """Read PATIENT_API_<name> from the environment."""
    return os.environ.get(f"PATIENT_API_{name}", default)


def env_int(name, default):
    """Read an integer setting."""
    return int(env(name, default))


def env_bool(name, default=False):
    """Read a boolean setting ("1", "true", "yes" are true)."""
    return str(env(name, "1" if default else "0")).lower() in ("1", "true", "yes", "on")


def database_url():
    """DATABASE_URL, normalised to the psycopg 3 driver; SQLite file by default."""
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'patient_api.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Base settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = env("SECRET_KEY", DEV_SECRET)
    DATA_KEY = env("DATA_KEY", DEV_DATA_KEY)
    DEV_LOGIN = env_bool("DEV_LOGIN")
    SQLALCHEMY_DATABASE_URI = database_url()
    # hide_parameters: SQL errors in logs must not carry names or other personal data.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    REDIS_URL = os.environ.get("REDIS_URL")
    EMBEDDED_REDIS_PATH = str(INSTANCE_DIR / "redis.db")
    TIMEZONE = "Asia/Shanghai"

    # WeChat official account and WeChat Pay (used by auth now, payments later).
    WECHAT_APPID = env("WECHAT_APPID", "wx0000000000000000")
    WECHAT_SECRET = env("WECHAT_SECRET", "dev-wechat-secret")
    WECHAT_TOKEN = env("WECHAT_TOKEN", "dev-wechat-token")
    WECHAT_ENCODING_AES_KEY = env("WECHAT_ENCODING_AES_KEY")
    # Where WeChat's API is (tests and the local sandbox point it elsewhere) and where our H5 pages live.
    WECHAT_API_BASE = env("WECHAT_API_BASE", "https://api.weixin.qq.com")
    WECHAT_H5_BASE_URL = env("WECHAT_H5_BASE_URL", "https://h5.example.invalid")
    # Template messages: JSON {"event": {"template_id": "...", "fields": {...}}} (see wechat/templates.py).
    WECHAT_TEMPLATES = env("WECHAT_TEMPLATES")
    WECHATPAY_MODE = env("WECHATPAY_MODE", "sandbox")
    WECHATPAY_MCHID = env("WECHATPAY_MCHID")
    WECHATPAY_APIV3_KEY = env("WECHATPAY_APIV3_KEY")
    WECHATPAY_PRIVATE_KEY = env("WECHATPAY_PRIVATE_KEY")  # PEM text or a file path
    WECHATPAY_CERT_SERIAL_NO = env("WECHATPAY_CERT_SERIAL_NO")
    WECHATPAY_PUBLIC_KEY = env("WECHATPAY_PUBLIC_KEY")  # platform public key (public-key mode)
    WECHATPAY_PUBLIC_KEY_ID = env("WECHATPAY_PUBLIC_KEY_ID")
    WECHATPAY_NOTIFY_URL = env("WECHATPAY_NOTIFY_URL", "http://127.0.0.1:8000/api/v1/payments/wechatpay/notify")

    # Sessions.
    SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 30 * 60)
    SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 3600)
    STAFF_SESSION_IDLE_SECONDS = env_int("STAFF_SESSION_IDLE_SECONDS", 15 * 60)
    KIOSK_SESSION_IDLE_SECONDS = env_int("KIOSK_SESSION_IDLE_SECONDS", 5 * 60)

    # Domain defaults (DESIGN.md "Domain rules"); hospitals may override some per row.
    MAX_PATIENTS_PER_ACCOUNT = env_int("MAX_PATIENTS_PER_ACCOUNT", 5)
    MAX_ACTIVE_BOOKINGS = env_int("MAX_ACTIVE_BOOKINGS", 5)
    HOLD_MINUTES = env_int("HOLD_MINUTES", 15)
    FREE_REVISIT_DAYS = env_int("FREE_REVISIT_DAYS", 3)  # 一次挂号三日免费; 0 turns it off
    NO_SHOW_LIMIT = env_int("NO_SHOW_LIMIT", 3)
    NO_SHOW_WINDOW_DAYS = env_int("NO_SHOW_WINDOW_DAYS", 90)
    NO_SHOW_BLOCK_DAYS = env_int("NO_SHOW_BLOCK_DAYS", 90)
    CHECKIN_OPENS_MINUTES = env_int("CHECKIN_OPENS_MINUTES", 60)
    CHECKIN_LATE_MINUTES = env_int("CHECKIN_LATE_MINUTES", 30)
    BOOKING_RATE_LIMIT = env_int("BOOKING_RATE_LIMIT", 5)
    BOOKING_RATE_WINDOW = env_int("BOOKING_RATE_WINDOW", 10)
    SOLD_OUT_FLAG_SECONDS = env_int("SOLD_OUT_FLAG_SECONDS", 5)
    IDEMPOTENCY_TTL_HOURS = env_int("IDEMPOTENCY_TTL_HOURS", 48)
    # Results: sensitive reports wait this long for a clinician's release; 互认 covers these test codes
    # (LOINC: blood count, liver and kidney function, glucose, HbA1c, lipids, electrolytes).
    RESULT_SENSITIVE_HOLD_DAYS = env_int("RESULT_SENSITIVE_HOLD_DAYS", 7)
    RESULT_RECOGNISED_CODES = tuple(env("RESULT_RECOGNISED_CODES", ",".join((
        "6690-2", "789-8", "718-7", "4544-3", "787-2", "785-6", "786-4", "788-0", "777-3", "770-8", "736-9",
        "1742-6", "1920-8", "1975-2", "1968-7", "2885-2", "1751-7", "6768-6", "2324-2",
        "2160-0", "3094-0", "3084-1", "33914-3", "2345-7", "1558-6", "4548-4", "17856-6",
        "2093-3", "2571-8", "2085-9", "13457-7", "2951-2", "2823-3", "2075-0", "17861-6"))).split(","))

    # OpenAPI (flask-smorest); Swagger UI assets are served locally, never from a CDN.
    API_TITLE = "patient_api"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"
    JSON_AS_ASCII = False
    MAX_CONTENT_LENGTH = 1024 * 1024


class DevConfig(Config):
    """Local demo: SQLite + embedded Redis unless DATABASE_URL/REDIS_URL are set."""

    ENV_NAME = "development"


class TestConfig(Config):
    """Test runs: the fixtures pass the database and Redis in."""

    ENV_NAME = "test"
    TESTING = True
    DEV_LOGIN = True


class ProdConfig(Config):
    """Production: refuses to start without real secrets."""

    ENV_NAME = "production"

    @classmethod
    def check(cls):
        """Raise if a development secret would be used in production."""
        missing = [name for name, dev in (("SECRET_KEY", DEV_SECRET), ("DATA_KEY", DEV_DATA_KEY))
                   if getattr(cls, name) in (None, "", dev)]
        if missing or not os.environ.get("DATABASE_URL") or not cls.REDIS_URL:
            raise RuntimeError(f"production needs PATIENT_API_{missing} DATABASE_URL REDIS_URL set")


CONFIGS = {"development": DevConfig, "test": TestConfig, "production": ProdConfig}


def config_from_env():
    """Pick the config class named by PATIENT_API_ENV (development by default)."""
    return CONFIGS[env("ENV", "development")]
