"""Configuration classes; every value can come from the environment (PATIENT_API_*)."""
import json
import os
import secrets
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("PATIENT_API_INSTANCE_DIR", Path.cwd() / "instance"))
# Development-only WeChat fallbacks: production refuses to start with any of these.
DEV_WECHAT_SECRET = "dev-wechat-secret"
DEV_WECHAT_TOKEN = "dev-wechat-token"


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
    # No default: development generates its own into instance/ (see generated_key), production must set them.
    SECRET_KEY = env("SECRET_KEY")
    DATA_KEY = env("DATA_KEY")
    DEV_LOGIN = env_bool("DEV_LOGIN")
    OPS_TOKEN = env("OPS_TOKEN")  # production: /metrics and /api/docs need it as a Bearer token (off without it)
    SQLALCHEMY_DATABASE_URI = database_url()
    # hide_parameters: SQL errors in logs must not carry names or other personal data. No pool_pre_ping: a pooled
    # PostgreSQL connection is checked without a round trip (common/liveness.py).
    SQLALCHEMY_ENGINE_OPTIONS = {"hide_parameters": True}
    REDIS_URL = os.environ.get("REDIS_URL")
    EMBEDDED_REDIS_PATH = str(INSTANCE_DIR / "redis.db")
    DEMO_REDIS_SOCKET = str(INSTANCE_DIR / "redis.sock")  # where scripts/serve.sh runs its Redis
    TIMEZONE = "Asia/Shanghai"

    # WeChat official account and WeChat Pay (used by auth now, payments later).
    WECHAT_APPID = env("WECHAT_APPID", "wx0000000000000000")
    WECHAT_SECRET = env("WECHAT_SECRET", DEV_WECHAT_SECRET)
    WECHAT_TOKEN = env("WECHAT_TOKEN", DEV_WECHAT_TOKEN)
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

    # SMS one-time codes (实名认证): sandbox keeps messages in a table; tencent sends through Tencent Cloud SMS.
    SMS_PROVIDER = env("SMS_PROVIDER", "sandbox")
    SMS_SIGN_NAME = env("SMS_SIGN_NAME", "泰安健康")
    SMS_TENCENT_SECRET_ID = env("SMS_TENCENT_SECRET_ID")
    SMS_TENCENT_SECRET_KEY = env("SMS_TENCENT_SECRET_KEY")
    SMS_TENCENT_SDK_APP_ID = env("SMS_TENCENT_SDK_APP_ID")
    SMS_TENCENT_SIGN_NAME = env("SMS_TENCENT_SIGN_NAME")
    SMS_TENCENT_REGION = env("SMS_TENCENT_REGION", "ap-guangzhou")
    SMS_TENCENT_TEMPLATES = env("SMS_TENCENT_TEMPLATES")  # JSON {"verification": "<template id>"}
    SMS_TENCENT_ENDPOINT = env("SMS_TENCENT_ENDPOINT", "sms.tencentcloudapi.com")
    VERIFY_CODE_SECONDS = env_int("VERIFY_CODE_SECONDS", 300)
    SMS_RESEND_SECONDS = env_int("SMS_RESEND_SECONDS", 60)
    SMS_PHONE_HOURLY = env_int("SMS_PHONE_HOURLY", 5)  # codes per phone (and per person) per hour
    SMS_ACCOUNT_HOURLY = env_int("SMS_ACCOUNT_HOURLY", 10)
    BINDING_CODE_SECONDS = env_int("BINDING_CODE_SECONDS", 300)
    ADD_PATIENT_LIMIT = env_int("ADD_PATIENT_LIMIT", 10)  # 就诊人 adds per account per hour
    ADD_PERSON_LIMIT = env_int("ADD_PERSON_LIMIT", 10)  # adds of one ID number across accounts per hour
    VERIFY_ATTEMPT_LIMIT = env_int("VERIFY_ATTEMPT_LIMIT", 30)  # codes entered per account / per person per hour
    # Failed staff sign-ins per client address per 10 minutes (a ward's shared NAT signs in fine; spraying does not).
    STAFF_LOGIN_IP_LIMIT = env_int("STAFF_LOGIN_IP_LIMIT", 20)
    # werkzeug's hash for staff passwords. Only test runs lower the work factor (scrypt's N), where a full-strength
    # hash per staff account made was a third of the suite's time; production refuses anything but the default.
    STAFF_PASSWORD_HASH = env("STAFF_PASSWORD_HASH", "scrypt")

    # Sessions.
    SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 30 * 60)
    SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 12 * 3600)
    STAFF_SESSION_IDLE_SECONDS = env_int("STAFF_SESSION_IDLE_SECONDS", 15 * 60)
    KIOSK_SESSION_IDLE_SECONDS = env_int("KIOSK_SESSION_IDLE_SECONDS", 5 * 60)
    PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", "http://127.0.0.1:8000")  # kiosk provisioning links point here

    # Domain defaults (docs/architecture.md); hospitals may override some per row.
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
    # Public schedule answers (no patient named) shared through Redis for at most this long; 0 turns it off.
    # Any committed ticket change drops them at once (directory/public_cache.py).
    SCHEDULE_CACHE_MS = env_int("SCHEDULE_CACHE_MS", 2000)
    IDEMPOTENCY_TTL_HOURS = env_int("IDEMPOTENCY_TTL_HOURS", 48)
    # 号源预留 defaults (docs/booking-pools.md): a JSON list of {"pool", "share", "release_hours_before"} entries,
    # each optionally limited to a "hospital" code, a "level" (1-3) and a "fee_kind"; the most specific wins.
    # None by default: keeping tickets back from the public is each city's decision.
    BOOKING_POOLS = json.loads(env("BOOKING_POOLS", "[]"))
    # Results: sensitive reports wait this long for a clinician's release; 互认 covers these test codes
    # (LOINC: blood count, liver and kidney function, glucose, HbA1c, lipids, electrolytes).
    RESULT_SENSITIVE_HOLD_DAYS = env_int("RESULT_SENSITIVE_HOLD_DAYS", 7)
    # Held whatever the sender says (LOINC): HIV antibodies/antigen, HIV-1 RNA (viral load), CD4 count, HIV genotype.
    RESULT_SENSITIVE_CODES = tuple(env("RESULT_SENSITIVE_CODES", ",".join((
        "7917-8", "5221-7", "31201-7", "56888-1", "75622-1", "68961-2", "20447-9", "25836-8", "10351-5",
        "24467-3", "8128-1", "48023-6", "34591-8"))).split(","))
    RESULT_RECOGNISED_CODES = tuple(env("RESULT_RECOGNISED_CODES", ",".join((
        "6690-2", "789-8", "718-7", "4544-3", "787-2", "785-6", "786-4", "788-0", "777-3", "770-8", "736-9",
        "1742-6", "1920-8", "1975-2", "1968-7", "2885-2", "1751-7", "6768-6", "2324-2",
        "2160-0", "3094-0", "3084-1", "33914-3", "2345-7", "1558-6", "4548-4", "17856-6",
        "2093-3", "2571-8", "2085-9", "13457-7", "2951-2", "2823-3", "2075-0", "17861-6"))).split(","))

    # 互联网+护理 (home nursing): a request is reviewed within HOMECARE_REVIEW_MINUTES or lapses; cancelling is free
    # until HOMECARE_FREE_CANCEL_HOURS before the window, then costs HOMECARE_CANCEL_FEE ("travel": the order's
    # travel fee, or a number of fen); dispatchers are alerted when a visit has no check-out HOMECARE_OVERDUE_HOURS
    # after check-in; the assigned nurse reads the address until HOMECARE_ADDRESS_HOURS after check-out.
    HOMECARE_REVIEW_MINUTES = env_int("HOMECARE_REVIEW_MINUTES", 120)
    HOMECARE_FREE_CANCEL_HOURS = env_int("HOMECARE_FREE_CANCEL_HOURS", 24)
    HOMECARE_CANCEL_FEE = env("HOMECARE_CANCEL_FEE", "travel")
    HOMECARE_OVERDUE_HOURS = env_int("HOMECARE_OVERDUE_HOURS", 4)
    HOMECARE_ADDRESS_HOURS = env_int("HOMECARE_ADDRESS_HOURS", 24)
    # 先诊疗后付费 / 无感支付 (docs/credit.md): default limits where a hospital has no credit_policies row, the
    # days a settlement may stay unpaid before reminders (D+1, D+3, D+7) and before credit is suspended city-wide,
    # deduction retries (seconds after each failure), and the merchant's 委托代扣 template id (plan_id).
    CREDIT_BASE_LIMIT_FEN = env_int("CREDIT_BASE_LIMIT_FEN", 100_000)
    CREDIT_FAMILY_DOCTOR_LIMIT_FEN = env_int("CREDIT_FAMILY_DOCTOR_LIMIT_FEN", 300_000)
    CREDIT_INSURED_LIMIT_FEN = env_int("CREDIT_INSURED_LIMIT_FEN", 200_000)
    CREDIT_GRACE_DAYS = env_int("CREDIT_GRACE_DAYS", 15)
    CREDIT_DEDUCTION_BACKOFF = tuple(int(s) for s in env("CREDIT_DEDUCTION_BACKOFF", "0,1800,21600").split(","))
    WECHATPAY_PAPAY_PLAN_ID = env_int("WECHATPAY_PAPAY_PLAN_ID", 10000)
    CREDIT_LOOKUP_LIMIT = env_int("CREDIT_LOOKUP_LIMIT", 30)  # ID-card look-ups per cashier per 10 minutes
    REFERRAL_LOOKUP_LIMIT = env_int("REFERRAL_LOOKUP_LIMIT", 30)  # 转诊 patient look-ups per referrer per 10 minutes

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
    """Production: refuses to start with anything unsafe (see unsafe_settings)."""

    ENV_NAME = "production"

    @classmethod
    def check(cls, config=None):
        """Raise RuntimeError naming every unsafe setting of `config` (the class's own values by default)."""
        config = config or {name: getattr(cls, name) for name in dir(cls) if name.isupper()}
        problems = unsafe_settings(config)
        if problems:
            raise RuntimeError("production refuses to start: " + "; ".join(problems))


def unsafe_settings(config):
    """What production must not run with: sandbox money or SMS, dev login, development or missing secrets."""
    checks = [
        (config.get("WECHATPAY_MODE") != "live", "PATIENT_API_WECHATPAY_MODE must be live (sandbox marks bills paid)"),
        (bool(config.get("DEV_LOGIN")), "PATIENT_API_DEV_LOGIN must be off"),
        (config.get("SMS_PROVIDER") != "tencent", "PATIENT_API_SMS_PROVIDER must be tencent (sandbox sends nothing)"),
        (config.get("WECHAT_TOKEN") in (None, "", DEV_WECHAT_TOKEN), "PATIENT_API_WECHAT_TOKEN is the development one"),
        (config.get("WECHAT_SECRET") in (None, "", DEV_WECHAT_SECRET),
         "PATIENT_API_WECHAT_SECRET is the development one"),
        (len(config.get("WECHAT_ENCODING_AES_KEY") or "") != 43,
         "PATIENT_API_WECHAT_ENCODING_AES_KEY must be the account's 43-character key (safe mode)"),
        (len(config.get("SECRET_KEY") or "") < 32, "PATIENT_API_SECRET_KEY must be set (32+ characters)"),
        (len(config.get("DATA_KEY") or "") < 32, "PATIENT_API_DATA_KEY must be set (32+ characters)"),
        (not str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"),
         "DATABASE_URL must be PostgreSQL"),
        (not config.get("REDIS_URL"), "REDIS_URL must be set (no embedded Redis in production)"),
        (config.get("STAFF_PASSWORD_HASH", "scrypt") != "scrypt",
         "PATIENT_API_STAFF_PASSWORD_HASH must be left unset (full-strength scrypt)"),
    ]
    return [message for failed, message in checks if failed]


def running_demo_redis(socket_path):
    """unix://<socket_path> when a Redis answers PING there (scripts/serve.sh's), else None."""
    if not os.path.exists(socket_path):
        return None
    import redis
    url = f"unix://{socket_path}"
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5) as client:
            client.ping()
    except (redis.RedisError, OSError):  # a socket file left by a demo that was killed
        return None
    return url


def generated_key(name):
    """A development key kept in instance/ (made on first use, never committed): no key is a constant in the source."""
    path = INSTANCE_DIR / f"{name}.key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: when several processes start at once, the first one's key is everybody's
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        except FileExistsError:
            pass
    for _ in range(50):  # a racing creator may not have written it yet
        value = path.read_text().strip()
        if value:
            return value
    raise RuntimeError(f"{path} is empty")


CONFIGS = {"development": DevConfig, "test": TestConfig, "production": ProdConfig}


def config_from_env():
    """Pick the config class named by PATIENT_API_ENV (development by default)."""
    return CONFIGS[env("ENV", "development")]
