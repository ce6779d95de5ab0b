from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    """Argon2id at the OWASP minimum: 19 MiB of memory, 2 passes, 1 lane.

    Django's own defaults (100 MiB, 8 lanes) cost several times more CPU per
    login; during the assessment window thousands of schools log in at once,
    and OWASP rates this configuration as equivalent in strength. The
    algorithm name stays ``argon2``, so hashes made with other parameters still
    verify and are re-hashed at the next login.
    """

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
