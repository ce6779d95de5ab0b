"""The one settings module. Everything an operator may change comes from the
environment (or a ``.env`` file beside manage.py); see README's table."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)  # the embedded default keeps its SQLite file, mail and SMS here

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # silently skipped when absent

DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("DEBUG is off but SECRET_KEY is the development default: set SECRET_KEY.")
LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=LOCAL_HOSTS)
if DEBUG and set(ALLOWED_HOSTS) - set(LOCAL_HOSTS):
    raise ImproperlyConfigured("DEBUG is on while ALLOWED_HOSTS names public hosts: set DEBUG=0.")

# Production hardening (`manage.py check --deploy` reports nothing with DEBUG off).
# TRUSTED_PROXY: the address of the one reverse proxy in front of the web processes. Only
# requests coming from it may say, in X-Forwarded-Proto and X-Forwarded-For, that the client
# used HTTPS and which address the client has (see accounts/client.py); from anyone else both
# headers are ignored.
TRUSTED_PROXY = env.str("TRUSTED_PROXY", default="")
if TRUSTED_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
# A load balancer may probe /health/ over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "crispy_forms",
    "crispy_bootstrap5",
    "bootstrap",
    "accounts",
    "cabinet",
    "helpdesk",
    "directory",
    "procedures",
    "results",
    "demo",
]

MIDDLEWARE = [
    # Before everything: X-Forwarded-Proto is believed from TRUSTED_PROXY only (accounts/client.py).
    "accounts.client.ForwardedProtoMiddleware",
    # Then: it times the whole request, and every response carries its X-Request-ID.
    "fisoko_portal.logging.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # tells whether a session has given its second factor
    "accounts.middleware.StaffSecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "fisoko_portal.urls"
WSGI_APPLICATION = "fisoko_portal.wsgi.application"

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
                "fisoko_portal.context_processors.support",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
# Persistent connections: a new PostgreSQL connection costs more than most pages' queries.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # a connection the server dropped is replaced
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable database fails a request (and /health/) within seconds instead of hanging it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "fisoko_portal.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that is down or stuck is a cache miss after this long, not a hung page.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    # Pages read the session from Redis, PostgreSQL keeps it (so a Redis restart logs nobody out);
    # django-axes counts failed logins in Redis, shared by every web process, instead of several
    # queries a login. Redis must not evict keys (its default policy, noeviction).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis is the broker when configured; otherwise tasks run in-process.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Europe/Moscow"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,  # retries wait at most 600 s
    # A publish to a Redis that accepts connections but never answers gives up instead of hanging.
    "socket_timeout": 1,
    "socket_connect_timeout": 1,
    "max_retries": 0,  # nor does it wait to reconnect: the outbox row is there for the sweep
}
# Queueing after commit is tried once: a row that was not queued waits in the outbox for the sweep.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2  # a web request must not hang on a broker that is down
CELERY_BEAT_SCHEDULE = {
    "sweep-outbox": {
        "task": "helpdesk.tasks.sweep_outbox",
        "schedule": env.float("OUTBOX_SWEEP_SECONDS", default=60.0),
    },
    "purge-login-failures": {
        "task": "accounts.tasks.purge_login_failures",
        "schedule": crontab(minute=15),  # hourly
    },
    "purge-personal-data": {
        "task": "helpdesk.tasks.purge_personal_data",
        "schedule": crontab(hour=3, minute=30),  # daily, Moscow time
    },
    "purge-credentials": {
        "task": "directory.tasks.purge_credentials",
        "schedule": 300.0,  # an undownloaded credentials file lives CREDENTIALS_FILE_SECONDS at most
    },
    "close-unanswered": {
        "task": "helpdesk.tasks.close_unanswered",
        "schedule": crontab(minute=40),  # hourly: a request closes within the hour its wait ends
    },
    "clear-expired-sessions": {
        "task": "helpdesk.tasks.clear_expired_sessions",
        "schedule": crontab(hour=4, minute=0),  # daily, Moscow time
    },
    "poll-mailbox": {
        "task": "helpdesk.tasks.poll_mailbox",  # does nothing while IMAP_URL is unset
        "schedule": env.float("IMAP_POLL_SECONDS", default=60.0),
    },
}
# Email in (helpdesk/mailbox.py): the support mailbox, imaps://user:password@host:993/INBOX (or
# imap:// on loopback); unset: no letters are read.
IMAP_URL = env.str("IMAP_URL", default="")
# A server that is down or stuck must not hold a worker.
IMAP_TIMEOUT = env.float("IMAP_TIMEOUT", default=10.0)
# The authserv-id of the portal's own receiving mail server: set, a letter joins a request only when
# that server's Authentication-Results says dmarc=pass (a From: alone can be forged).
IMAP_TRUSTED_AUTHSERV = env.str("IMAP_TRUSTED_AUTHSERV", default="")
IMAP_BATCH = env.int("IMAP_BATCH", default=200)  # letters a poll takes at most
# A larger letter is not downloaded: its request says so, and the letter stays in the mailbox.
IMAP_MAX_LETTER_BYTES = env.int("IMAP_MAX_LETTER_BYTES", default=60 * 1024 * 1024)
OUTBOX_SWEEP_GRACE = env.int("OUTBOX_SWEEP_GRACE", default=60)
# Closed requests lose their personal data and attachments after this many days.
PERSONAL_DATA_RETENTION_DAYS = env.int("PERSONAL_DATA_RETENTION_DAYS", default=90)
# Open requests nobody has touched for this many days are closed and lose their data and files.
ABANDONED_REQUEST_DAYS = env.int("ABANDONED_REQUEST_DAYS", default=180)
# A password issued by support is an initial one: the user sets their own at the next login.
ISSUED_PASSWORD_MUST_CHANGE = env.bool("ISSUED_PASSWORD_MUST_CHANGE", default=True)

# Access credentials for schools («Реквизиты доступа»): how long the encrypted file waits to be
# downloaded, and whether municipal coordinators may issue them for their municipality's schools.
CREDENTIALS_FILE_SECONDS = env.int("CREDENTIALS_FILE_SECONDS", default=1800)
CREDENTIALS_MUNICIPAL = env.bool("CREDENTIALS_MUNICIPAL", default=False)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.login_budget.LoginBudgetBackend",  # after axes, before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
# Argon2id first, at the OWASP minimum (19 MiB, t=2, p=1); the other hashers
# only verify old hashes and upgrade them at the next login.
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/cabinet/"
LOGOUT_REDIRECT_URL = "/login/"
SESSION_COOKIE_AGE = int(timedelta(days=14).total_seconds())  # «Запомнить меня»
SESSION_COOKIE_HTTPONLY = True
# Staff can issue a password for any account: a second factor (TOTP, with recovery codes) whenever
# DEBUG is off, and sessions that end this long after login, «Запомнить меня» or not.
STAFF_OTP_REQUIRED = env.bool("STAFF_OTP_REQUIRED", default=not DEBUG)
STAFF_SESSION_SECONDS = env.int("STAFF_SESSION_SECONDS", default=8 * 3600)
OTP_TOTP_ISSUER = "ФИС ОКО"
CSRF_COOKIE_HTTPONLY = True

# Brute-force protection: 5 failures for one login from one address lock that
# pair out for 15 minutes. Keyed on both so that an attacker cannot lock a
# coordinator out of the whole country by guessing their login.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.client.client_ip"
# A lockout ends 15 minutes after the last counted failure; retries during it do not extend it,
# or one request every few minutes would keep a login locked for ever.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_VERBOSE = False
# Password spraying (accounts/login_budget.py): failed logins are also counted per client address
# across logins and per login across addresses, in the database, over windows of 15 minutes. Past
# the free failures each further attempt waits 1, 2, 4 … up to 60 s after the last failure (429 with
# Retry-After), never a lock: schools share addresses. 100 free failures per address are some 4
# times the failures expected in a peak quarter-hour from the largest shared address (a region's
# ЕСПД egress, ~600 logins an hour with ~10 % typos); past them one address tries about 120
# passwords a quarter-hour (100 + 6 growing waits + 14 at 60 s) instead of 4 for each of 42,000
# logins. 10 per login: two addresses of one school both locked by django-axes, and a bit more.
LOGIN_BUDGET_WINDOW = timedelta(minutes=env.int("LOGIN_BUDGET_WINDOW_MINUTES", default=15))
LOGIN_ADDRESS_FREE_FAILURES = env.int("LOGIN_ADDRESS_FREE_FAILURES", default=100)
LOGIN_USERNAME_FREE_FAILURES = env.int("LOGIN_USERNAME_FREE_FAILURES", default=10)
LOGIN_MAX_DELAY_SECONDS = env.int("LOGIN_MAX_DELAY_SECONDS", default=60)

LANGUAGE_CODE = "ru"
TIME_ZONE = "Europe/Moscow"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request when it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Never served by URL: files reach users only through views that check access.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
# Several web and worker hosts share one S3-compatible bucket. Objects are private: no public
# URL works, and files still reach staff only through the download view, read from the bucket.
S3_BUCKET = env.str("S3_BUCKET", default="")
if S3_BUCKET:
    from botocore.config import Config

    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="") or None,
            "access_key": env.str("S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("S3_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("S3_REGION", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            # Bounded, so that a storage outage fails requests (and /health/) instead of hanging them.
            "client_config": Config(
                connect_timeout=2, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}
            ),
        },
    }
else:
    Path(MEDIA_ROOT).mkdir(mode=0o700, parents=True, exist_ok=True)  # /health/ checks that it is there
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="servicedesk@fioco.ru")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The one address people write to (pages, mail, Reply-To of the desk's mail); the desk's own mail
# comes from DEFAULT_FROM_EMAIL, which nobody reads.
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="helpfisoko@fioco.ru")
# The portal's address as people open it: the links in mail, which has no request to take it from.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # seconds; a hanging server must not hold a worker

# SMS: "console", "file" (under var/sms/), "locmem" (tests), "smsc", or a dotted path to a backend class;
# or two of them, "primary,fallback": a failed attempt on one is retried through the other.
SMS_BACKEND = env.str("SMS_BACKEND", default="") or "file"  # empty, as an unset variable: the default
# Seconds before an attempt through the other gateway, for the first SMS_FALLBACK_QUICK failures of a
# message; later ones back off as with one gateway.
SMS_FALLBACK_DELAY = env.float("SMS_FALLBACK_DELAY", default=2.0)
SMS_FALLBACK_QUICK = env.int("SMS_FALLBACK_QUICK", default=3)
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=VAR_DIR / "sms")
SMSC_URL = env.str("SMSC_URL", default="https://smsc.ru/sys/send.php")
SMSC_LOGIN = env.str("SMSC_LOGIN", default="")
SMSC_PASSWORD = env.str("SMSC_PASSWORD", default="")
SMSC_SENDER = env.str("SMSC_SENDER", default="")
SMSC_TIMEOUT = env.float("SMSC_TIMEOUT", default=10.0)

# Backends that keep issued passwords and mail on this host: files under var/, the journal (past the
# log masking), memory. Right for `make run` and the tests; with DEBUG off the portal refuses to
# start with them unless ALLOW_LOCAL_DELIVERY=1 says, for a demo, that nobody real is served.
LOCAL_SMS_BACKENDS = {
    "console",
    "file",
    "locmem",
    "helpdesk.sms.console.ConsoleBackend",
    "helpdesk.sms.file.FileBackend",
    "helpdesk.sms.locmem.LocmemBackend",
}
LOCAL_EMAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
}
ALLOW_LOCAL_DELIVERY = env.bool("ALLOW_LOCAL_DELIVERY", default=False)
if not DEBUG and not ALLOW_LOCAL_DELIVERY:
    if any(name.strip() in LOCAL_SMS_BACKENDS for name in SMS_BACKEND.split(",")):
        raise ImproperlyConfigured(
            f"DEBUG is off but SMS_BACKEND is {SMS_BACKEND!r}: issued passwords would stay on this host. "
            "Set SMS_BACKEND=smsc with SMSC_LOGIN and SMSC_PASSWORD, or ALLOW_LOCAL_DELIVERY=1 for a demo."
        )
    if EMAIL_BACKEND in LOCAL_EMAIL_BACKENDS:
        raise ImproperlyConfigured(
            f"DEBUG is off but EMAIL_BACKEND is {EMAIL_BACKEND!r}: mail would stay on this host. "
            "Set EMAIL_URL (e.g. smtp+tls://user:password@mail.example.ru:587), or "
            "ALLOW_LOCAL_DELIVERY=1 for a demo."
        )

# No inline or external scripts: every script is a static file of this site. Inline style
# attributes stay allowed because Django's admin templates use them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

CABINET_PAGE_SIZE = 50

# Uploads always go to a temporary file, never into memory: a request may carry 40 MB.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.TemporaryFileUploadHandler"]
# Zip containers (zip, docx, xlsx) are refused past these, judged from their directory alone.
UPLOAD_ZIP_MAX_UNCOMPRESSED = env.int("UPLOAD_ZIP_MAX_UNCOMPRESSED", default=200 * 1024 * 1024)
UPLOAD_ZIP_MAX_ENTRIES = env.int("UPLOAD_ZIP_MAX_ENTRIES", default=1000)
# Optional antivirus: clamd over its Unix socket (CLAMAV_SOCKET) or TCP. When enabled and clamd
# cannot scan, the request is refused (fail closed). clamd's StreamMaxLength must exceed 40 MB.
CLAMAV_ENABLED = env.bool("CLAMAV_ENABLED", default=False)
CLAMAV_SOCKET = env.str("CLAMAV_SOCKET", default="")
CLAMAV_HOST = env.str("CLAMAV_HOST", default="127.0.0.1")
CLAMAV_PORT = env.int("CLAMAV_PORT", default=3310)
CLAMAV_TIMEOUT = env.float("CLAMAV_TIMEOUT", default=10.0)
# (requests, seconds) per client address for the public helpdesk pages. Many schools share one
# address (a region's ЕСПД egress, a provider's NAT), so /apply/ counts filed requests, not posts.
# 60 an hour is about the whole country's peak hour: if one school in ten of 42,000 loses its
# password in a campaign, 40 % of them in the peak week, a quarter of those on its peak day and
# 15 % of a day in its peak hour, 4,200 × 0.4 × 0.25 × 0.15 ≈ 63. Posts of any kind, refused ones
# included (a field to correct, a file to replace), have a cap ten times higher, against floods.
HELPDESK_APPLY_RATE = (env.int("HELPDESK_APPLY_LIMIT", default=60), 3600)
HELPDESK_APPLY_POST_RATE = (env.int("HELPDESK_APPLY_POST_LIMIT", default=600), 3600)
HELPDESK_STATUS_RATE = (env.int("HELPDESK_STATUS_LIMIT", default=20), 600)
HELPDESK_LETTER_RATE = (env.int("HELPDESK_LETTER_LIMIT", default=60), 3600)  # each one builds a .docx
# Confirmations of filed requests to one email address per 24 hours. Nobody verifies the address a
# request names: past this many the request is still filed, but its confirmation is not sent.
HELPDESK_EMAIL_PER_ADDRESS_DAY = env.int("HELPDESK_EMAIL_PER_ADDRESS_DAY", default=10)
# The answer time the desk promises on its pages and in the confirmation, in working days.
HELPDESK_ANSWER_DAYS = env.int("HELPDESK_ANSWER_DAYS", default=1)
# «Запросить уточнение»: a request waiting for its requester closes by itself after this many working
# days without an answer (the beat task below); the private link in the email works this many days
# (calendar days: it must outlive the wait, holidays included), and never once the request is closed.
HELPDESK_WAIT_DAYS = env.int("HELPDESK_WAIT_DAYS", default=5)
HELPDESK_REPLY_LINK_DAYS = env.int("HELPDESK_REPLY_LINK_DAYS", default=30)
# Answers through a private link per client address: each may carry 40 MB.
HELPDESK_REPLY_RATE = (env.int("HELPDESK_REPLY_LIMIT", default=30), 3600)

# LOG_JSON=1: one JSON object a line (requests, Celery tasks, everything else), for a log
# collector. Either way the formatter masks emails, phone numbers and passwords in every line.
LOG_JSON = env.bool("LOG_JSON", default=False)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "fisoko_portal.logging.JsonFormatter"},
        "plain": {
            "()": "fisoko_portal.logging.MaskingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_JSON else "plain"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# «Признаки необъективности» in «Аналитика» (results/reports.py, BiasRule): a school is listed when
# at least this many participants did the work, its share of 5s exceeds the region's by this many
# percentage points, and at least this percent of its participants got a mark above the journal's.
RESULTS_BIAS_MIN_PARTICIPANTS = env.int("RESULTS_BIAS_MIN_PARTICIPANTS", default=10)
RESULTS_BIAS_FIVES_ABOVE_REGION = env.float("RESULTS_BIAS_FIVES_ABOVE_REGION", default=20.0)
RESULTS_BIAS_RAISED_SHARE = env.float("RESULTS_BIAS_RAISED_SHARE", default=30.0)
# How many generated schools `seed_demo` gives results of the demo ВПР (demo/procedures.py).
DEMO_RESULTS_SCHOOLS = env.int("DEMO_RESULTS_SCHOOLS", default=300)
