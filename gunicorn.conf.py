"""gunicorn for the portal: `gunicorn -c gunicorn.conf.py fisoko_portal.wsgi` (the Procfile's web).

Sync workers: every view is short and blocking (PostgreSQL, Redis, storage), and nginx in front
buffers the whole request body, so a slow client's 40 MB upload never holds a worker.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# A 40 MB request is read from nginx, checked by content (and by clamd when enabled) and written
# to storage (S3 included) within one request: a minute is generous, and a hung worker is recycled.
timeout = 60
graceful_timeout = 30
keepalive = 5  # nginx keeps connections to the upstream open
# Recycle workers now and then, so that a slow leak in a library never grows unbounded.
max_requests = 2000
max_requests_jitter = 200
# Heartbeat files on tmpfs: a busy disk must not make the arbiter think its workers hang.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Client address and scheme are Django's business (TRUSTED_PROXY in settings), not gunicorn's.
forwarded_allow_ips = ""
accesslog = None  # fisoko_portal.logging writes one line per request
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Off: nothing here uses gunicornc, and its default socket in ~/.gunicorn is shared by every
# gunicorn that the same user runs on the host.
control_socket_disable = True
