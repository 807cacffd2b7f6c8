"""Settings for Snapshots, all taken from the environment (DESIGN §4).

With nothing set, the site runs on its embedded default: SQLite in WAL mode, django-q2's
ORM broker, the database cache and the bundled Sample source.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from snapshots_site.env import (
    env_bool,
    env_choice,
    env_header,
    env_int,
    env_list,
    env_rate,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SNAPSHOTS_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("SNAPSHOTS_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off in production.")
    # A per-installation key kept beside the database, so sessions survive restarts
    # without anyone having to invent one for a local run.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")
CSRF_TRUSTED_ORIGINS = [SITE_URL] if SITE_URL.startswith("https://") else []

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_q",
    "axes",
    "macros",
    "automation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "snapshots_site.hardening.SecurityHeadersMiddleware",
    "snapshots_site.hardening.RequestGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "snapshots_site.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the "paused" page.
    "axes.middleware.AxesMiddleware",
]

# What the automation API's machine calls go through instead (snapshots_site/wsgi.py):
# the same security headers, request guards and 503 on a lost database; no session,
# CSRF, sign-in, messages or static files, which they never use.
AUTOMATION_API_PREFIXES = (
    "/api/automation/v1/macros/",
    "/api/automation/v1/pages/",
    "/api/automation/v1/snapshots",
    "/api/automation/v1/jobs/",
    "/take-snapshot/",
)
AUTOMATION_API_MIDDLEWARE = [
    m for m in MIDDLEWARE
    if m.rsplit(".", 1)[1] in {"SecurityMiddleware", "SecurityHeadersMiddleware", "RequestGuardMiddleware",
                               "XFrameOptionsMiddleware", "DatabaseUnavailableMiddleware"}
]

ROOT_URLCONF = "snapshots_site.urls"
WSGI_APPLICATION = "snapshots_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL this site understands: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers and the writer work at once; IMMEDIATE takes the write lock at
    # BEGIN so two writers queue on the busy timeout instead of failing with
    # "database is locked" when one upgrades a read transaction. Connections are kept:
    # opening one costs the schema parse, and closing the last one checkpoints the WAL;
    # per request that was ~4 ms and cut the trigger endpoint to 15% of a bare view
    # (bench/bench_trigger.py).
    _db["CONN_MAX_AGE"] = 600
    _db["CONN_HEALTH_CHECKS"] = False
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
    }
    # A file, not :memory:, so a worker process and a live server can share it; one per
    # test run so parallel runs on one machine don't trample each other.
    _db["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    _db.setdefault("OPTIONS", {})["connect_timeout"] = 5
    # A health check is a SELECT 1 before each request's first query: a second round trip
    # on the automation trigger, whose budget is one (bench/bench_trigger.py). Without it
    # a request on a connection the server dropped fails once; the trigger's lookup
    # reconnects and retries (automation.calls._fetch_one), other requests answer 503 and
    # Django closes the broken connection at the end of the request.
    _db["CONN_HEALTH_CHECKS"] = env_bool("DATABASE_HEALTH_CHECKS", False)
else:
    raise ImproperlyConfigured("DATABASE_URL must be a sqlite:// or postgres:// URL.")
DATABASES = {"default": _db}
# PostgreSQL: the automation API's lookups run as statements prepared once per connection
# (automation.calls). Off for a pooler that cannot keep them (PgBouncer before 1.21 in
# transaction mode): each call is then planned anew, about a quarter slower.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and queue ------------------------------------------------------------------
# One name for this site's queue and its Redis keys, so several sites (or test runs) can
# share one Redis without taking each other's tasks or throttle counters.
Q_CLUSTER_NAME = env_str("Q_CLUSTER_NAME", "snapshots")
if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", Q_CLUSTER_NAME):
    raise ImproperlyConfigured(f"Q_CLUSTER_NAME must be 1-64 letters, digits, '.', '_' or '-' (got {Q_CLUSTER_NAME!r}).")
REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": Q_CLUSTER_NAME,
            # A Redis that stops answering must fail a request fast (the middleware turns
            # it into a 503), not hold a web worker for the OS's TCP timeout.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
else:
    # Shared by every process (throttle counters must be), unlike the local-memory cache.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "snapshots_cache"}}

# Two different questions (STYLE.md 15): how long one snapshot may run, and how soon a dead
# worker is noticed. SNAPSHOT_JOB_TIMEOUT is the first: django-q2 stops the task after it.
# SNAPSHOT_LEASE_SECONDS is the second: a running job renews a lease of this length every
# third of it (a heartbeat, also while it waits on Jira), and the sweep takes back a job
# whose lease lapsed, so a killed worker's job starts again within about
# lease + sweep interval + the retry's own run time.
SNAPSHOT_JOB_TIMEOUT = env_int("SNAPSHOT_JOB_TIMEOUT", 900, minimum=5)
SNAPSHOT_LEASE_SECONDS = env_int("SNAPSHOT_LEASE_SECONDS", 30, minimum=3)
# How often the sweep (macros.snapshots.reap_stale_jobs) looks for jobs a dead worker or a
# lost broker message left behind. django-q2 looks at its schedules every 30 seconds, so
# that is the shortest interval that means anything; applied by `manage.py migrate`.
SNAPSHOT_SWEEP_SECONDS = env_int("SNAPSHOT_SWEEP_SECONDS", 30, minimum=30)
if SNAPSHOT_SWEEP_SECONDS != 30 and SNAPSHOT_SWEEP_SECONDS % 60:
    raise ImproperlyConfigured(f"SNAPSHOT_SWEEP_SECONDS must be 30 or whole minutes (60, 120, …) (got {SNAPSHOT_SWEEP_SECONDS}).")
# How often the site reads Jira's field list again (macros/fieldlist.py).
JIRA_FIELDS_REFRESH_MINUTES = env_int("JIRA_FIELDS_REFRESH_MINUTES", 60, minimum=5)
Q_CLUSTER = {
    "name": Q_CLUSTER_NAME,
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "recycle": 200,
    # A task is killed after `timeout` (the time limit); the ORM broker hands a task out
    # again after `retry`, which must exceed `timeout` so that a live snapshot is never
    # delivered twice (were it, `take` would find its lease held and do nothing). A dead
    # worker's job does not wait for `retry`: its lease lapses and the sweep re-enqueues it.
    "timeout": SNAPSHOT_JOB_TIMEOUT,
    "retry": SNAPSHOT_JOB_TIMEOUT + max(5, SNAPSHOT_JOB_TIMEOUT // 10),
    # Attempts per job: the broker's deliveries and the sweep's re-enqueues both count
    # (SnapshotJob.attempts); after the last one the sweep fails the job with a reason.
    "max_attempts": 3,
    "ack_failures": True,
    "save_limit": 100,
    "catch_up": False,
    "label": "Background tasks",
    "poll": 0.05,
    "bulk": 1,
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Backups ---------------------------------------------------------------------------
# Where backups made from Site administration and the backups endpoint are kept (never
# under a URL: they hold password hashes), and how many of them are kept.
BACKUP_DIR = Path(env_str("SNAPSHOTS_BACKUP_DIR", str(VAR_DIR / "backups")))
BACKUP_KEEP = env_int("SNAPSHOTS_BACKUP_KEEP", 10, minimum=1)

# --- Authentication -------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Failed sign-ins are throttled per user name and per client address (snapshots_site.signin).
AUTHENTICATION_BACKENDS = [
    "snapshots_site.signin.SignInThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGNIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "snapshots_site.signin.locked_out"
AXES_USERNAME_CALLABLE = "snapshots_site.signin.user_name"
AXES_CLIENT_IP_CALLABLE = "automation.audit.client_address"  # TRUSTED_PROXY_COUNT applies
AXES_DISABLE_ACCESS_LOG = True  # failures are what it needs; successful sign-ins are not kept
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

# --- Jira -----------------------------------------------------------------------------
JIRA_URL = env_url("JIRA_URL", "")
JIRA_DEPLOYMENT = env_choice("JIRA_DEPLOYMENT", ("cloud", "datacenter", "auto"), "auto")
JIRA_USER = env_str("JIRA_USER")
JIRA_TOKEN = env_str("JIRA_TOKEN")
if JIRA_URL and not JIRA_TOKEN:
    raise ImproperlyConfigured("JIRA_TOKEN must be set when JIRA_URL is set.")
# Calls at once to the Jira site, shared by every worker (in Redis when REDIS_URL is set):
# the limit starts at the first figure, grows while Jira answers well, halves on a 429,
# and never passes the second (macros/sources/concurrency.py).
JIRA_CONCURRENCY_START = env_int("JIRA_CONCURRENCY_START", 4, minimum=1)
JIRA_CONCURRENCY_MAX = env_int("JIRA_CONCURRENCY_MAX", 8, minimum=1)

# --- Automation API -------------------------------------------------------------------
AUTOMATION_THROTTLE = env_rate("AUTOMATION_THROTTLE", "120/min")
AUTOMATION_REFUSED_THROTTLE = env_rate("AUTOMATION_REFUSED_THROTTLE", "30/min")
# Calls that join a queued job are counted (audit, "last called") in batches this old at
# most, per web process; 0 writes each call at once (automation.calls.CallCounts).
AUTOMATION_COUNT_FLUSH_SECONDS = env_int("AUTOMATION_COUNT_FLUSH_SECONDS", 2, minimum=0)
# The longest a call with ?wait= holds its answer (and a web worker). Keep it below
# gunicorn's WEB_TIMEOUT (30 s by default), which kills a worker whose request runs longer.
AUTOMATION_MAX_WAIT = env_int("AUTOMATION_MAX_WAIT", 25, minimum=0)
if AUTOMATION_MAX_WAIT > 60:
    raise ImproperlyConfigured(f"AUTOMATION_MAX_WAIT must be at most 60 seconds (got {AUTOMATION_MAX_WAIT}).")

# --- Client addresses -----------------------------------------------------------------
# How many proxies of our own (load balancer, ingress) stand in front of the site, each
# adding the address it saw to CLIENT_ADDRESS_HEADER. 0: the header is ignored (a caller
# could write anything into it) and REMOTE_ADDR is the client. Used by the automation
# API's refused-attempts guard and by sign-in throttling (automation.audit.client_address).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
CLIENT_ADDRESS_HEADER = env_header("CLIENT_ADDRESS_HEADER", "X-Forwarded-For")
if os.environ.get("CLIENT_ADDRESS_HEADER", "").strip() and TRUSTED_PROXY_COUNT == 0:
    raise ImproperlyConfigured("CLIENT_ADDRESS_HEADER is set but TRUSTED_PROXY_COUNT is 0: set how many proxies add to it.")
CLIENT_ADDRESS_META = "HTTP_" + CLIENT_ADDRESS_HEADER.upper().replace("-", "_")
AUTOMATION_MAX_BODY = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = AUTOMATION_MAX_BODY + 1

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": TRUSTED_PROXY_COUNT or None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Snapshots automation API",
    "DESCRIPTION": "Take snapshots of Jira data from Jira Automation, CI/CD pipelines and scheduled jobs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The published description is generated from automation.api_urls alone
    # (automation/docs.py, checked by its tests and by the fuzz run against it); this
    # check would generate one for every URL of the site, catch-all views included.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
}

# --- Production hardening -------------------------------------------------------------
if not DEBUG and SITE_URL.startswith("https://"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # HSTS is a promise browsers keep for its whole lifetime: off until an operator opts in.
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "snapshots_site.middleware.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    "loggers": {
        # Django's own handlers (console when DEBUG, mail_admins when ADMINS is set) are
        # replaced by ours, which carry the redaction filter; request logs carry no headers.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Keep Django's 4xx warnings out of the way of load tests.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}
