"""Settings for the benchmarks only: production settings plus the floor views and a hasher switch."""

from fisoko_portal.settings import *  # noqa: F403
from fisoko_portal.settings import ALLOWED_HOSTS, env

ROOT_URLCONF = "bench.urls"
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]  # the in-process figures use Django's test Client

# BENCH_HASHER=pbkdf2: Django's default hasher first, the baseline of the login storm.
if env.str("BENCH_HASHER", default="") == "pbkdf2":
    PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "accounts.hashers.Argon2idHasher",
    ]
