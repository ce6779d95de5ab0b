"""What the figures share: a loopback HTTP client, gunicorn processes, statistics and verdicts."""

import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
CPUS = os.cpu_count() or 1
HOST = "127.0.0.1"  # every server a figure starts listens here, and every request goes here
CSRF = "b" * 32  # a CSRF secret of our choosing: Django checks only that cookie and form agree


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None, timeout=120):
    """One request on a fresh connection (gunicorn's sync workers close it anyway)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location", ""), dict(response.getheaders())
    finally:
        conn.close()


def csrf_headers(content_type):
    return {"Cookie": f"csrftoken={CSRF}", "Content-Type": content_type, "Referer": f"http://{HOST}/"}


def hammer(clients, work, *, seconds=None, each=None):
    """Run ``work(client_index, n)`` in ``clients`` threads, for ``seconds`` or ``each`` calls per thread.

    ``work`` returns True for a success. Returns (successes, failures, elapsed seconds, latencies).
    """
    lock, results = threading.Lock(), {"ok": 0, "failed": [], "latencies": []}
    deadline = time.monotonic() + seconds if seconds else None

    def loop(index):
        n = 0
        while (each is None or n < each) and (deadline is None or time.monotonic() < deadline):
            started = time.perf_counter()
            try:
                ok = work(index, n)
            except OSError as error:
                ok = repr(error)
            took = time.perf_counter() - started
            with lock:
                if ok is True:
                    results["ok"] += 1
                    results["latencies"].append(took)
                else:
                    results["failed"].append(ok)
            n += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results["ok"], results["failed"], time.monotonic() - started, results["latencies"]


class Gunicorn:
    """gunicorn on a loopback port with the bench settings; options on the command line only."""

    def __init__(self, env, port, workers, **extra_env):
        self.port, self.workers = port, workers
        self.env = {**env, **extra_env}
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "fisoko_portal.wsgi", "-b", f"{HOST}:{self.port}",
             "-w", str(self.workers), "--timeout", "120", "--log-level", "warning"],
            cwd=BASE_DIR, env=self.env,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn on port {self.port} exited with {self.process.returncode}")
            try:
                request(self.port, "GET", "/login/", timeout=5)
                if len(self.worker_pids()) == self.workers:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn on port {self.port} did not answer within 60 s")

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)

    def worker_pids(self):
        pid = self.process.pid
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def peak_rss_kib(self):
        """VmHWM, the peak resident memory since it started, of each worker (KiB)."""
        peaks = {}
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1])
        return peaks


def cpu_seconds(pid):
    """CPU time (user + system) of a process and its children that are still running."""
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    ticks = 0
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Figure:
    """One measured quantity over several runs."""

    name: str
    values: list = field(default_factory=list)
    unit: str = ""
    digits: int = 1

    @property
    def median(self):
        return statistics.median(self.values)

    def text(self):
        fmt = f"{{:.{self.digits}f}}"
        low, high = min(self.values), max(self.values)
        return (
            f"{fmt.format(self.median)} {self.unit} (min–max {fmt.format(low)}–{fmt.format(high)})".replace(
                "  ", " "
            ).strip()
        )


@dataclass
class Target:
    name: str
    wanted: str
    figure: Figure
    met: bool

    def row(self):
        return (
            f"| {self.name} | {self.wanted} | {self.figure.text()} | {'met' if self.met else '**not met**'} |"
        )


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
