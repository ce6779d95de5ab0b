"""Settings for the benchmarks only: production settings plus the floor views and a hasher switch."""

from fisoko_portal.settings import *  # noqa: F403
from fisoko_portal.settings import ALLOWED_HOSTS, MIDDLEWARE, PASSWORD_HASHERS, env

ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]  # the in-process figures use Django's test Client

# Outermost: each response says how long Django took and how much of it went to verifying passwords.
MIDDLEWARE = ["bench.timing.middleware", *MIDDLEWARE]
PASSWORD_HASHERS = [
    "bench.timing.TimedArgon2idHasher" if h == "accounts.hashers.Argon2idHasher" else h
    for h in PASSWORD_HASHERS
]

# BENCH_HASHER=pbkdf2: Django's default hasher first, the baseline of the login storm.
if env.str("BENCH_HASHER", default="") == "pbkdf2":
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "bench.timing.TimedArgon2idHasher",
    ]

# BENCH_SESSIONS=cache: sessions in Redis only, to show what the login would cost without PostgreSQL.
if env.str("BENCH_SESSIONS", default="") == "cache":
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
