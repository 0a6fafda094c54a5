"""Settings, read from the environment in this one module.

With no DATABASE_URL and no REDIS_URL the site runs on an embedded default (SQLite, Celery
eager, local-memory cache) so that a newcomer sees it work at once. Production sets DEBUG=0,
and then the site refuses to start on the development SECRET_KEY or without a log key.
"""

import datetime
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# Known on purpose, so that production can refuse it.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- the log -------------------------------------------------------------------------------
LEDGER_ORIGIN = env.str("LEDGER_ORIGIN", default="carhistory.localhost/log")
# The log's signer key: either the key string itself, or a file that holds it. It never lives
# in the repository; `manage.py create_log_key` writes the file.
LEDGER_SIGNING_KEY = env.str("LEDGER_SIGNING_KEY", default="")
LEDGER_SIGNING_KEY_FILE = Path(
    env.str("LEDGER_SIGNING_KEY_FILE", default=str(VAR_DIR / "ledger-signing.key"))
)
# The log's VRF key (SPEC §7), which keys the VIN index: standard base64 of its 32-byte secret
# seed, either itself or in a file; `manage.py create_log_key` writes the file beside the log key.
LEDGER_VRF_KEY = env.str("LEDGER_VRF_KEY", default="")
LEDGER_VRF_KEY_FILE = Path(env.str("LEDGER_VRF_KEY_FILE", default=str(VAR_DIR / "ledger-vrf.key")))
# Where `verify_ledger` remembers the largest checkpoint it verified (ledger/audit.py).
LEDGER_AUDIT_STATE_FILE = Path(
    env.str("LEDGER_AUDIT_STATE_FILE", default=str(VAR_DIR / "verified-checkpoint.json"))
)
# How many pending submissions the sequencer integrates in one transaction, at most. A full
# batch only forms when that many wait; larger batches share the VIN index's upper nodes
# between more entries (docs/PERFORMANCE.md, "VIN index").
LEDGER_BATCH_SIZE = env.int("LEDGER_BATCH_SIZE", default=50_000)
# A sequencer run that looks again because entries came while it worked waits until this long
# after its previous look: fewer, larger batches under a stream of single submissions, for at
# most this much more latency (ledger/sequencer.py, `_pace`). A batch and its checkpoint cost
# about 17 ms of CPU whatever their size; at 200 single submissions a second, 0.25 s instead of
# 0.1 s saved about 1.2 ms of CPU an event in all (docs/PERFORMANCE.md, "Fifth session").
LEDGER_BATCH_INTERVAL_SECONDS = env.float("LEDGER_BATCH_INTERVAL_SECONDS", default=0.25)

if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("DEBUG is off: set SECRET_KEY to a long random value.")
# A missing log key is refused by a system check (ledger/checks.py), by the web server and by
# the worker, not here: the commands that create the keys must start before any key exists.

# --- apps ----------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ledger.apps.LedgerConfig",
    "carhistory.sources",
    "carhistory.vehicles",
    "carhistory.portal",
    "carhistory.moderation",
    "carhistory.demo",
    "carhistory.watch",
]

MIDDLEWARE = [
    # First, like a cache in front of the site: a cached report skips everything below.
    "carhistory.vehicles.middleware.CachedReportMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # django-csp's, with the site's policy built once (carhistory/content_security_policy.py).
    "carhistory.content_security_policy.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's, skipped for the sources API, which reads no session, user or message.
    "carhistory.browser_middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "carhistory.browser_middleware.AuthenticationMiddleware",
    "carhistory.browser_middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "carhistory.urls"
WSGI_APPLICATION = "carhistory.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- storage -------------------------------------------------------------------------------
if "DATABASE_URL" not in env:
    # The embedded default keeps its SQLite file (and the log key) in var/, made on first use.
    VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's backend, keeping its client (see the module).
            "BACKEND": "carhistory.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="carhistory"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery --------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# The embedded default has no broker: tasks run at once, in the web process.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    # A safety net: submissions trigger integration themselves; this picks up any left over
    # by a worker that died, and keeps checkpoints fresh.
    # Required in production: a worker SIGKILLed mid-task takes its message with it until
    # Redis's visibility timeout (an hour); the next beat tick restarts integration at once.
    # Expiring: ticks sent while no worker runs are dropped, not run one after another.
    "integrate-pending": {
        "task": "ledger.tasks.integrate_pending",
        "schedule": 5.0,
        "options": {"expires": 10},
    },
    # Each checkpoint is pushed to the witnesses as it is signed; this retries the ones that
    # failed and refreshes cosignatures of a log that has not grown.
    "witness-checkpoint": {"task": "ledger.tasks.witness_checkpoint", "schedule": 10.0},
    # Watched cars: new entries are noticed as they integrate; this retries e-mails a failing
    # SMTP server held back and webhooks that were down.
    "watch-sweep": {"task": "carhistory.watch.tasks.sweep_watches_task", "schedule": 300.0},
}

# --- witnesses (C2SP tlog-witness, ledger/witnessing.py) ------------------------------------
WITNESS_TIMEOUT_SECONDS = env.float("WITNESS_TIMEOUT_SECONDS", default=5.0)
# A push queued by a new checkpoint starts this long after it, carrying the checkpoints signed
# meanwhile: fewer pushes under a stream of batches, for at most this much more latency.
WITNESS_PUSH_INTERVAL_SECONDS = env.float("WITNESS_PUSH_INTERVAL_SECONDS", default=0.2)
# Ask a witness again about an unchanged checkpoint after this long, for a fresh cosignature.
WITNESS_REFRESH_SECONDS = env.int("WITNESS_REFRESH_SECONDS", default=60)
# After a failure, wait this long before the next push, doubling per failure up to the maximum.
WITNESS_BACKOFF_SECONDS = env.float("WITNESS_BACKOFF_SECONDS", default=1.0)
WITNESS_BACKOFF_MAX_SECONDS = env.float("WITNESS_BACKOFF_MAX_SECONDS", default=300.0)
# The report warns when the newest witness cosignature is older than this.
WITNESS_FRESHNESS_SECONDS = env.int("WITNESS_FRESHNESS_SECONDS", default=600)

# --- e-mail (django-environ's EMAIL_URL: smtp://host:port, consolemail:// …) ----------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
# Links in e-mails sent with no request at hand (a watched car's news) start with this.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Webhook receivers on private or loopback addresses: only for tests on one machine.
WATCH_WEBHOOKS_ALLOW_PRIVATE = env.bool("WATCH_WEBHOOKS_ALLOW_PRIVATE", default=False)
WATCH_WEBHOOKS_CA_FILE = env.str("WATCH_WEBHOOKS_CA_FILE", default="") or None
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="carhistory <noreply@carhistory.localhost>"
)

# --- accounts ------------------------------------------------------------------------------
# A set-password link sent on approval stays valid this long (Django's reset token).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)

# --- i18n ----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_TZ = True

# --- static files --------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# --- API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's own JSON parser lets a deeply nested body escape as a 500; this one answers 400.
    "DEFAULT_PARSER_CLASSES": ["carhistory.rest.SafeJSONParser"],
    "UNAUTHENTICATED_USER": None,
    # Maps every DomainError to a 400 (and an oversize body to a 413) once, for every view.
    "EXCEPTION_HANDLER": "carhistory.rest.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        # Anonymous report lookups, per client address.
        "vin_lookup": env.str("THROTTLE_VIN_LOOKUP", default="120/minute"),
        # Submissions, per source (a batch of up to 1,000 events counts once).
        "source": env.str("THROTTLE_SOURCE", default="600/minute"),
        # The public forms, per client address (carhistory/rate_limits.py): each sent form
        # writes to the database, and a dispute flushes a cached report.
        "dispute": env.str("THROTTLE_DISPUTE", default="10/hour"),
        "application": env.str("THROTTLE_APPLICATION", default="5/hour"),
        "password_reset": env.str("THROTTLE_PASSWORD_RESET", default="5/hour"),
    },
}
# Request bodies above this are refused with 413 (a batch of 1,000 events fits well under it).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
# CSV uploads may be larger than an API body: tens of thousands of rows.
CSV_UPLOAD_MAX_BYTES = env.int("CSV_UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "carhistory API",
    "DESCRIPTION": "Used-car histories on a verifiable append-only log. See SPEC.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The browsable API docs are served from our own static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Per-type facts and examples from the event schemas, and the log's plain-text endpoints.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "carhistory.openapi.postprocess",
    ],
}

# --- security ------------------------------------------------------------------------------
# HTTPS=1 when the site is reached over TLS (directly or through NUM_PROXIES proxies): HSTS for a
# year, plain HTTP redirected, cookies sent over TLS only.
HTTPS = env.bool("HTTPS", default=False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
# Load balancers probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("HSTS_PRELOAD", default=HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# How many reverse proxies stand in front of the site. Only then are X-Forwarded-For (the
# client's address, for the throttles) and X-Forwarded-Proto (for HTTPS) believed: without a
# proxy anyone can forge them.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES or None
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if NUM_PROXIES else None
# No inline script runs anywhere: scripts come from our own static files only. Inline styles
# stay allowed (templates, the admin and Swagger UI use style attributes); they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
LOGIN_URL = "login"

# Brute force on /accounts/login/ and /admin/login/ (django-axes): after AXES_FAILURE_LIMIT wrong
# passwords from one address, or for one user name, sign-in is refused (429) for the cool-off,
# even with the right password. Locking by user name lets anyone lock a user out for that
# long; the short cool-off bounds what that costs, and a moderator can reset it in the admin.
# Django's ModelBackend, except that demo logins (published passwords) are refused whenever
# DEBUG is off (carhistory/demo/auth.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "carhistory.demo.auth.DemoAwareModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "carhistory.rate_limits.client_address"
AXES_LOCKOUT_TEMPLATE = "locked_out.html"
AXES_VERBOSE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Without a broker every task runs inline, and Celery would log each one at INFO.
    "loggers": {"celery.app.trace": {"level": "WARNING"}},
}
