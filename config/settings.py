"""The one settings module. Every deployment knob is an environment variable read strictly (core.env).

Two shapes, chosen by the environment alone:
- embedded default (nothing set): SQLite in WAL mode under DATA_DIR and kombu's filesystem transport as the
  Celery broker, so a laptop needs no server but still runs a real worker process;
- production path: DATABASE_URL (PostgreSQL) and REDIS_URL (Celery broker, shared concurrency caps, cache).
DJANGO_MODE=production turns on the hardening that `manage.py check --deploy` looks for.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from core.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_storage,
    env_str,
    env_url,
    private_data_dir,
    private_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent

MODE = env_choice("DJANGO_MODE", ("development", "production"), "development")
PRODUCTION = MODE == "production"

# Everything the embedded default writes (SQLite file, broker folders, locks, artifacts) lives here.
# Only its owner may read it (sessions, API tokens, the secret key): 0700, and owner-only files from here on.
DATA_DIR = private_data_dir(
    Path(env_str("DATA_DIR", str(BASE_DIR / "var"))).resolve(), files=("secret_key", "demo-logins.json")
)


def _secret_key() -> str:
    value = env_str("SECRET_KEY")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_MODE=production")
    # Development: a random key kept beside the local data, never a constant in the repository.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be false when DJANGO_MODE=production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_MODE=production")
if "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name hosts; '*' is refused")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Not rest_framework.authtoken: its plaintext keys became digests (projects.ApiToken, migration projects 0003).
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "core",  # an abstract model (RunModel), no tables: template tags (core/templatetags) shared by every app's pages
    "projects",
    "llm",
    "selfinstruct",
    "annotation",
    "exports",
    "training",
    "console",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RequestSizeMiddleware",  # before anything parses a body
    "core.middleware.RejectNullBytesMiddleware",
    "core.middleware.ApiTrailingSlashMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.error_pages.FriendlyErrorPagesMiddleware",  # DEBUG: non-staff get the friendly 404/500 pages
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into projects.views.locked_out (429)
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------------
_database_url = env_url("DATABASE_URL", ("sqlite", "postgres", "postgresql", "pgsql"))
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    _sqlite_name = Path(DATABASES["default"]["NAME"])
    private_file(_sqlite_name)  # a database file an older install made readable by everyone
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while a worker writes; IMMEDIATE takes the write lock at BEGIN so two
        # writers queue on busy_timeout instead of failing with "database is locked" mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not :memory:, so that a real worker process can open the test database too.
    DATABASES["default"]["TEST"] = {"NAME": str(_sqlite_name.with_name(f"test_{_sqlite_name.name}"))}
else:
    # Django turns psycopg's prepared statements off (for transaction-mode poolers); the labelers' few hot statements
    # (core/sql.py) ask for preparing explicitly, and only they are ever prepared at this threshold (Django's own
    # cursors bind on the client and never prepare). DATABASE_PREPARED_STATEMENTS=0 for a pooler that cannot keep
    # them (PgBouncer before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        2**31 - 1 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Broker, cache, concurrency caps --------------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
EMBEDDED_BROKER_DIR = DATA_DIR / "broker"
LOCK_DIR = DATA_DIR / "locks"

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    if REDIS_URL.startswith(("redis://", "rediss://")):
        # kombu's Redis transport, except that a channel of a closed connection raises a connection error (which
        # Celery recovers from) rather than the AttributeError that stops a worker after a Redis restart.
        CELERY_BROKER_TRANSPORT = "core.broker:Transport"
    if REDIS_URL.startswith("rediss://"):
        import ssl as _ssl

        CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": _ssl.CERT_REQUIRED}  # kombu's own default for rediss:// is CERT_NONE
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Long jobs are redelivered after this many seconds if unacked; tasks are written to be idempotent.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60),
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    for _sub in ("queue", "processed", "bad"):
        (EMBEDDED_BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    # kombu's filesystem transport, except that messages appear whole (written aside, renamed into place) and a bad
    # message file is moved to broker/bad with an error logged instead of stopping the worker.
    CELERY_BROKER_TRANSPORT = "core.broker_files:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(EMBEDDED_BROKER_DIR / "queue"),
        "data_folder_out": str(EMBEDDED_BROKER_DIR / "queue"),
        "processed_folder": str(EMBEDDED_BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(EMBEDDED_BROKER_DIR / "control"),
        "bad_folder": str(EMBEDDED_BROKER_DIR / "bad"),
        "polling_interval": 0.2,
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": DATA_DIR / "cache"}
    }

CELERY_TASK_DEFAULT_QUEUE = "default"
TRAINING_QUEUE = env_str("TRAINING_QUEUE", "gpu")
# Every task names its queue (the services send with it too): LLM-only work never waits on the one-at-a-time GPU queue.
CELERY_TASK_ROUTES = {
    "selfinstruct.tasks.generation_step_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "selfinstruct.tasks.rating_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "annotation.tasks.sampling_chunk_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "annotation.tasks.judge_run_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "exports.tasks.build_dataset_version_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "llm.tasks.run_endpoint_check_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "training.tasks.evaluation_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "training.tasks.run_training_job_task": {"queue": TRAINING_QUEUE},
    "training.tasks.score_completions_task": {"queue": TRAINING_QUEUE},
    "training.tasks.difficulty_task": {"queue": TRAINING_QUEUE},
    "training.tasks.serving_task": {"queue": TRAINING_QUEUE},
}
CELERY_TASK_ACKS_LATE = True  # every task is idempotent: a worker killed mid-task leaves the message to redo
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True  # progress lives in database rows that the UI reads, never in Celery results
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False  # queued work never silently runs inline

# --- Auth, API ------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Sign-in lock-outs (django-axes; the policy is in projects/signin.py): LOGIN_FAILURE_LIMIT failures for one
# username from one client address, or LOGIN_ADDRESS_FAILURE_LIMIT from one address for any usernames, within the
# window lock that combination (or address) out (HTTP 429) until the window has passed since the last failure.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 50, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
# A distributed guess: LOGIN_USERNAME_FAILURE_LIMIT failures for one username summed over all addresses within the
# window slow that username down (429 + Retry-After until the oldest age out), except from addresses it signed in
# from in the last LOGIN_KNOWN_ADDRESS_DAYS (0: none are exempt).
LOGIN_USERNAME_FAILURE_LIMIT = env_int("LOGIN_USERNAME_FAILURE_LIMIT", 50, minimum=1)
LOGIN_KNOWN_ADDRESS_DAYS = env_int("LOGIN_KNOWN_ADDRESS_DAYS", 30, minimum=0)
# Past that ceiling one attempt per LOGIN_USERNAME_SLOW_SECONDS is still checked (a slow-down, not a wall), and a
# browser with a device cookie for the username (set at each sign-in, kept LOGIN_DEVICE_COOKIE_DAYS; 0: off) is exempt.
LOGIN_USERNAME_SLOW_SECONDS = env_int("LOGIN_USERNAME_SLOW_SECONDS", 60, minimum=1)
LOGIN_DEVICE_COOKIE_DAYS = env_int("LOGIN_DEVICE_COOKIE_DAYS", 180, minimum=0)
# Reverse proxies in front of the web server, each appending the address it saw to X-Forwarded-For: 0 (default)
# trusts only the connecting address; N takes the N-th address from the right (what the outermost trusted proxy
# saw), so whatever a client writes into the header itself is never believed.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "projects.signin.SignInHandler"
AXES_FAILURE_LIMIT = "projects.signin.failure_limit"
AXES_COOLOFF_TIME = "projects.signin.cool_off"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
# A refused attempt is not counted: a lock lifts when the window has passed since the last *checked* failure (as
# Retry-After says), rather than growing with every retry of someone who is already refused.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "projects.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "projects.signin.client_address"
AXES_VERBOSE = False
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "projects.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # ?format= names a dataset format on the download endpoint, not a DRF renderer
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Instruction-data platform API",
    "DESCRIPTION": "Generate instructions, rank completions, export datasets, train models.",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Curation's instruction states share the field name `status` with every run's statuses.
    "ENUM_NAME_OVERRIDES": {
        "InstructionStatusEnum": ["accepted", "rejected"],
        "ReviewPolicyEnum": "annotation.models.ReviewPolicy",  # the ranking settings' and the review API's
    },
    # the deprecated flat twins of project-scoped routes are described in docs/api.md, not in the schema
    "PREPROCESSING_HOOKS": ["projects.endpoints.drop_flat_routes"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.document_common_errors",
        "projects.endpoints.drop_project_fields",
    ],
}

# --- I18n, static ---------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing folder before collectstatic has run
STATICFILES_DIRS = [BASE_DIR / "static"]
# Front-end packages from npm (package.json, installed by `make run` / `make test`), served as static files; a page
# that finds one missing shows its data as tables.
CHARTJS_DIR = BASE_DIR / "node_modules" / "chart.js" / "dist"
if CHARTJS_DIR.is_dir():
    STATICFILES_DIRS.append(("vendor/chartjs", CHARTJS_DIR))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
    # Files other machines read (datasets, training artifacts): S3-compatible with STORAGE_URL, else DATA_DIR.
    "artifacts": env_storage(DATA_DIR),
}
# Django's storages chmod what they save to 0644 by default, whatever the umask: files under DATA_DIR stay owner-only.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# Dataset downloads from an object store: answered with a redirect to a short-lived presigned URL (the store serves
# the bytes and Range) instead of streamed through the web server.
STORAGE_REDIRECT_DOWNLOADS = env_bool("STORAGE_REDIRECT_DOWNLOADS", False)

# --- LLM client -----------------------------------------------------------------------------------------------
LLM_RETRY_BASE_SECONDS = 0.5
LLM_RETRY_MAX_SECONDS = 30.0
LLM_SLOT_WAIT_SECONDS = env_int("LLM_SLOT_WAIT_SECONDS", 300, minimum=1)
# No LLM reply is read past this many bytes: a longer one is an error (not retried) and its start is kept.
LLM_MAX_REPLY_BYTES = env_int("LLM_MAX_REPLY_BYTES", 1024 * 1024, minimum=1024)

# --- Generation ---------------------------------------------------------------------------------------------
# A lane (chain of requests) whose heartbeat is older than this is restarted by the reconciler that every worker
# runs; it must exceed one request's worst case (timeout x retries + backoff).
GENERATION_LANE_STALE_SECONDS = env_int("GENERATION_LANE_STALE_SECONDS", 600, minimum=1)
GENERATION_RECONCILE_SECONDS = env_int("GENERATION_RECONCILE_SECONDS", 30, minimum=1)  # every run kind's reconciler
# Sampling, judge and evaluation runs and endpoint checks beat every RUN_HEARTBEAT_SECONDS while they work; one
# silent for RUN_STALE_SECONDS is sent again (or, for a check, failed); a queued one waiting RUN_REQUEUE_SECONDS
# is sent again (its message may have been lost with Redis).
RUN_HEARTBEAT_SECONDS = env_int("RUN_HEARTBEAT_SECONDS", 10, minimum=1)
RUN_STALE_SECONDS = env_int("RUN_STALE_SECONDS", 120, minimum=1)
RUN_REQUEUE_SECONDS = env_int("RUN_REQUEUE_SECONDS", 1800, minimum=1)
GENERATION_MAX_CONSECUTIVE_FAILURES = 10
# A batch whose last N successful replies added nothing to the pool has saturated (its teacher keeps repeating
# itself): it stops instead of paying for requests forever.
GENERATION_STALL_REQUESTS = env_int("GENERATION_STALL_REQUESTS", 100, minimum=1)
GENERATION_MAX_LANES = 8

# --- Dataset builds -------------------------------------------------------------------------------------------
# A build beats at most every HEARTBEAT seconds while rows flow; one silent for STALE seconds is restarted by the
# same reconciler (writing the default download of a very large version happens between two beats).
DATASET_BUILD_HEARTBEAT_SECONDS = env_int("DATASET_BUILD_HEARTBEAT_SECONDS", 5, minimum=0)
DATASET_BUILD_STALE_SECONDS = env_int("DATASET_BUILD_STALE_SECONDS", 300, minimum=1)

# --- Training ---------------------------------------------------------------------------------------------------
# Jobs run on their own queue (TRAINING_QUEUE, routed with the Celery settings above): one worker per GPU box with
# `-Q gpu --concurrency 1 --prefetch-multiplier 1`.
TRAINING_POLL_SECONDS = 1.0  # how often the supervisor reads the trainer's events and beats
# Trainers fork from a per-worker process that has imported torch, transformers, TRL… once
# (training/trainer/launcher.py): each job after a worker's first starts 5–9 s of CPU sooner. 0 starts every trainer
# as a fresh process.
TRAINING_PRELOAD = env_bool("TRAINING_PRELOAD", True)
# A running job whose supervisor has not beaten for this long is failed by the reaper every worker runs.
TRAINING_STALE_SECONDS = env_int("TRAINING_STALE_SECONDS", 120, minimum=1)
# Queued jobs whose message may have been lost (Redis restarted without its data) are re-sent after this long.
TRAINING_REQUEUE_SECONDS = env_int("TRAINING_REQUEUE_SECONDS", 1800, minimum=1)
# Serving runs (a trained model served by a gpu worker: models page, API, `serve_model --queue`). The server listens on
# SERVING_HOST at the first free port of SERVING_PORTS on the worker's machine; the platform calls it at
# SERVING_PUBLIC_URL ("{port}" filled in; default http://SERVING_HOST:PORT/v1), whose host PROJECT_ENDPOINT_HOSTS
# must allow. The site's choice: users never name a host or port. SERVING_ENGINE auto is vLLM where installed.
SERVING_HOST = env_str("SERVING_HOST", "127.0.0.1")
SERVING_PORTS = env_str("SERVING_PORTS", "8100-8199")
_low, _, _high = SERVING_PORTS.partition("-")
if not (_low.isdigit() and (_high or _low).isdigit() and 1024 <= int(_low) <= int(_high or _low) <= 65535):
    raise ImproperlyConfigured(f"SERVING_PORTS must be a port or a range such as 8100-8199, got {SERVING_PORTS!r}")
SERVING_PORT_RANGE = (int(_low), int(_high or _low))
SERVING_PUBLIC_URL = env_str("SERVING_PUBLIC_URL", "")
if SERVING_PUBLIC_URL and "{port}" not in SERVING_PUBLIC_URL:
    raise ImproperlyConfigured(f"SERVING_PUBLIC_URL must hold {{port}}, got {SERVING_PUBLIC_URL!r}")
SERVING_ENGINE = env_choice("SERVING_ENGINE", ("auto", "builtin", "vllm"), "auto")
# A playground message waits for its reply in the web request (one try, no retries): at most this long.
PLAYGROUND_TIMEOUT_SECONDS = env_int("PLAYGROUND_TIMEOUT_SECONDS", 25, minimum=1)
# The only folders base models may come from (comma-separated; users name a checkpoint folder under one of them).
# Job folders under DATA_DIR/training are never base models by path: a project builds on its own jobs by base_job.
# The largest request body accepted, all its files together (refused with 413 from Content-Length, before any of it
# is read: Django never reads past Content-Length). Files are parsed a row at a time, so this bounds disk and time,
# not memory; the default holds the largest single file (a 200 MiB completion file). At most 25 files a request
# (the completion import takes 20, one per model).
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 256 * 1024**2, minimum=1024)
DATA_UPLOAD_MAX_NUMBER_FILES = 25
# Hosts a project admin's own LLM endpoints may point at (exact names, or ".example.com" for its subdomains): a
# worker sends requests there, so a site admin decides; none in production unless set.
# Who may create projects (home page, POST /api/v1/projects, manage.py create_project --as): "staff" (site admins),
# "permission" (site admins and users given projects.add_project), "anyone" (every signed-in user). The creator
# becomes the project's admin.
PROJECT_CREATION = env_choice("PROJECT_CREATION", ("staff", "permission", "anyone"), "permission")
PROJECT_ENDPOINT_HOSTS = env_list("PROJECT_ENDPOINT_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])
# The ports a PROJECT_ENDPOINT_HOSTS entry without its own ":port" (or ":*") allows; "*" is any port.
PROJECT_ENDPOINT_PORTS = env_list("PROJECT_ENDPOINT_PORTS", ["80", "443"] if PRODUCTION else ["*"])
# A project endpoint's host must resolve to public addresses, or to an IP entry of PROJECT_ENDPOINT_HOSTS or an
# address in one of these networks (e.g. 10.0.0.0/8 for GPU boxes named in PROJECT_ENDPOINT_HOSTS): checked when the
# request is sent, and the connection goes to the checked address.
PROJECT_ENDPOINT_NETWORKS = env_list("PROJECT_ENDPOINT_NETWORKS", [])
TRAINING_MODEL_ROOTS = env_list("TRAINING_MODEL_ROOTS", [str(DATA_DIR / "models")])

# --- Production hardening -------------------------------------------------------------------------------------
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts only from this site's own static files — no inline script, no
# eval — so injected markup cannot run. Inline styles stay allowed (Swagger UI and htmx set style attributes);
# data: images for Swagger UI's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# The development error page and error e-mails: passwords inside URL-shaped values (DATABASE_URL…) masked too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "core.reporting.CredentialsFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING"), "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpx2": {"level": "WARNING"}, "httpcore2": {"level": "WARNING"}},
}
