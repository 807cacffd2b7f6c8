"""gunicorn settings for the web process (`gunicorn snapshots_site.wsgi`, see the Procfile).

gunicorn reads this file from the working directory by itself. Every value comes from the
environment, with defaults sized for a small machine:

    PORT / WEB_BIND        where to listen (default 127.0.0.1:8000; WEB_BIND wins, e.g. 0.0.0.0:8000)
    WEB_CONCURRENCY        worker processes (default 2 per CPU + 1, at most 8)
    WEB_THREADS            threads per worker (default 1: plain sync workers)
    WEB_TIMEOUT            seconds a request may take before its worker is restarted (default 30)
    FORWARDED_ALLOW_IPS    proxies trusted for X-Forwarded-* (gunicorn reads it itself)

No request ever waits for Jira (snapshots run on the django-q2 workers), so a request that
takes WEB_TIMEOUT seconds is stuck, not slow.
"""

import gc
import os
import re

_bind = os.environ.get("WEB_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
if not re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}|unix:.+", _bind):
    raise SystemExit(f"WEB_BIND/PORT must give host:port or unix:/path (got {_bind!r}).")
bind = [_bind]


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number (got {raw!r}).") from None
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum} (got {value}).")
    return value


workers = _int("WEB_CONCURRENCY", min(2 * (os.cpu_count() or 1) + 1, 8))
threads = _int("WEB_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("WEB_TIMEOUT", 30, minimum=5)
graceful_timeout = 30
keepalive = 5
# Restart a worker now and then so that a slow leak cannot grow without bound.
max_requests = 5000
max_requests_jitter = 500
# Load the site once, in the master, and fork every worker from it (snapshots_site/wsgi.py
# also imports what a first request would). A worker started by max_requests or after a
# timeout then answers at once: importing Django in each new worker made its first
# request take about 0.5 s, and with max_requests the workers restart together every few
# thousand requests (bench/bench_trigger.py). Loading opens no database or Redis connection.
preload_app = True


def pre_fork(server, worker):
    """What the master loaded lives as long as the worker: keep it out of the collector's
    full passes (a fresh worker's first one took 0.1-0.2 s while it answered)."""
    gc.freeze()

# gunicorn 23+ opens a control socket at one fixed path per user; two web processes on one
# machine (blue/green, tests, benchmarks) would fight over it, and nothing here uses it.
control_socket_disable = True

# Logs go to stdout/stderr for the process manager to collect.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# No request headers at all: the automation key travels in `jira-snapshots-api-key`
# (or `Authorization`), and the referrer and user agent are not worth the risk. The path
# is logged without its query string for the same reason.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms %(p)s'
# Defence in depth: the same redaction filter Django's own log handler has.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "snapshots_site.middleware.RedactSecretsFilter"}},
    "formatters": {
        "generic": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(message)s", "class": "logging.Formatter"},
        "access": {"format": "%(message)s", "class": "logging.Formatter"},
    },
    "handlers": {
        "error_console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stderr", "filters": ["redact_secrets"]},
        "console": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout", "filters": ["redact_secrets"]},
    },
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
    "root": {"level": "INFO", "handlers": ["error_console"]},
}
