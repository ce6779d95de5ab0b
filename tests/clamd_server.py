"""A real ClamAV daemon for tests, with a signature database holding only EICAR.

The machine cannot download ClamAV's databases, so the one signature is written here: an MD5
hash signature (.hdb, ``md5:size:name``) of the EICAR test file, which clamd also matches on
files it unpacks from archives.
"""

import hashlib
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

CLAMD = Path("/usr/sbin/clamd")
SIGNATURE = "Eicar-Test-Signature"


def eicar():
    """The standard 68-byte antivirus test file, put together so this source does not match it."""
    return b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-" + b"ANTIVIRUS-TEST-FILE!$H+H*"


@contextmanager
def running_clamd(stream_max_length="50M", timeout=60):
    """Start clamd in the foreground on a Unix socket; yield (socket path, seconds it took to start)."""
    # A short directory of its own: a Unix socket path must fit in 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="clamd-"))
    (root / "db").mkdir()
    sample = eicar()
    (root / "db" / "eicar.hdb").write_text(f"{hashlib.md5(sample).hexdigest()}:{len(sample)}:{SIGNATURE}\n")
    sock = root / "clamd.sock"
    (root / "clamd.conf").write_text(
        f"LocalSocket {sock}\n"
        f"DatabaseDirectory {root / 'db'}\n"
        f"TemporaryDirectory {root}\n"
        f"LogFile {root / 'clamd.log'}\n"
        "Foreground yes\n"
        # Uploads may reach 40 MB; clamd's default stream limit is lower in Debian's config.
        f"StreamMaxLength {stream_max_length}\n"
    )
    started = time.monotonic()
    process = subprocess.Popen(
        [CLAMD, "--foreground", f"--config-file={root / 'clamd.conf'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        while not _pong(sock):
            if process.poll() is not None or time.monotonic() - started > timeout:
                log = (root / "clamd.log").read_text() if (root / "clamd.log").exists() else ""
                raise RuntimeError(f"clamd did not start (exit code {process.poll()}):\n{log}")
            time.sleep(0.02)
        yield sock, time.monotonic() - started
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def _pong(path):
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(path))
            sock.sendall(b"zPING\0")
            return sock.recv(16) == b"PONG\0"
    except OSError:
        return False
