"""Shared set-up for the HTTP benchmarks and the browser tests: a throwaway PostgreSQL database, production-like
settings, one daphne process, a Celery worker and beat on the same settings, and a load generator (wrk when
installed, else an asyncio httpx loop)."""

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


def percentile(samples: list[float], q: float) -> float:
    """The nearest-rank q-th percentile (nan for no samples)."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


RATE_LIMIT_GROUP_VARIABLES = (
    "RATE_LIMIT_DEFAULT",
    "RATE_LIMIT_PUBLIC",
    "RATE_LIMIT_LOGIN",
    "RATE_LIMIT_REFRESH",
    "RATE_LIMIT_UPLOAD",
)

# Database 14 unless BENCH_REDIS_URL says otherwise: a benchmark never touches db 0 of dev and test runs.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"


def bench_redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pem_key(path: Path) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(path)


@contextmanager
def bench_environment(extra: dict[str, str] | None = None) -> Any:
    run_id = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    db_name = f"bench_{run_id}"
    env = {
        **os.environ,
        "DJANGO_READ_DOT_ENV": "false",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": f"bench-{run_id}-" + "x" * 40,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db_name}",
        "REDIS_URL": bench_redis_url(),
        "CACHE_KEY_PREFIX": f"bench{run_id}",
        # A queue of this run's own: only a worker started on this environment takes its tasks.
        "CELERY_TASK_DEFAULT_QUEUE": f"bench-{run_id}",
        "MONGODB_URL": os.environ.get("BENCH_MONGODB_URL", f"mongodb://127.0.0.1:27017/bench_{run_id}"),
        "LOGIN_RSA_PRIVATE_KEY": _pem_key(workdir / "login.pem"),
        "JWT_PRIVATE_KEY": _pem_key(workdir / "jwt.pem"),
        "ADMIN_USERNAME": "admin",
        "ADMIN_PASSWORD": "admin-pass-123",
        "LOG_LEVEL": "WARNING",
        # Plain http on loopback: no https redirect, HSTS or secure-only cookies (they follow this switch).
        "DJANGO_SECURE_COOKIES": "false",
        # The limiter runs (its cost is part of every figure) but never refuses: one client sends all the load.
        **{name: os.environ.get(name, "1000000/min") for name in RATE_LIMIT_GROUP_VARIABLES},
        **(extra or {}),
    }
    subprocess.run(
        ["psql", "postgres://postgres@127.0.0.1:5432/postgres", "-qc", f'CREATE DATABASE "{db_name}"'],
        check=True,
        capture_output=True,
    )
    try:
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "initdb")
        yield env
    finally:
        subprocess.run(
            [
                "psql",
                "postgres://postgres@127.0.0.1:5432/postgres",
                "-qc",
                f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)',
            ],
            capture_output=True,
        )
        _drop_queue(env)
        shutil.rmtree(workdir, ignore_errors=True)


def _drop_queue(env: dict[str, str]) -> None:
    """The run's task queue and its binding: what a task sent without a worker left on the broker."""
    import redis

    queue = env["CELERY_TASK_DEFAULT_QUEUE"]
    try:
        client = redis.Redis.from_url(env.get("CELERY_BROKER_URL") or env["REDIS_URL"])
        client.delete(queue, f"_kombu.binding.{queue}")
        client.close()
    except redis.RedisError:
        pass


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def django_snippet(env: dict[str, str], code: str) -> Any:
    """Run `code` with Django set up; it must print one JSON document on its last line."""
    prelude = "import django, json, asyncio\ndjango.setup()\n"
    result = subprocess.run(
        [PYTHON, "-c", prelude + code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


@contextmanager
def daphne(env: dict[str, str]) -> Any:
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="daphne-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("daphne did not start: " + Path(log.name).read_text()[-4000:])
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        Path(log.name).unlink(missing_ok=True)


class Child:
    """A process in a session of its own (its pool processes go with it), its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for(self, text: str, timeout: float) -> None:
        """Until `text` shows in the output; raises with the output's end if it does not in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            if text in self.output():
                return
            time.sleep(0.2)
        if text not in self.output():
            state = "running" if self.alive() else f"exited with {self.process.returncode}"
            raise RuntimeError(f"{self.name} ({state}) never logged {text!r}:\n{self.output()[-4000:]}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a Celery worker's warm shutdown finishes its task and flushes its records), then SIGKILL."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._log.close()
        self.log_path.unlink(missing_ok=True)


@contextmanager
def celery_worker(env: dict[str, str], *, concurrency: int = 1, timeout: float = 120.0) -> Iterator[Child]:
    """A Celery worker on env's settings, consuming only env's queue; yielded once it reports ready."""
    queue = env["CELERY_TASK_DEFAULT_QUEUE"]
    args = [PYTHON, "-m", "celery", "-A", "config", "worker", "-l", "info", "-P", "prefork", f"-c{concurrency}"]
    args += ["-Q", queue, "-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    worker = Child("celery-worker", args, env)
    try:
        worker.wait_for(" ready.", timeout)
        yield worker
    finally:
        worker.stop()


@contextmanager
def celery_beat(env: dict[str, str], *, tick_seconds: int = 1, timeout: float = 120.0) -> Iterator[Child]:
    """Celery beat (django-celery-beat's database scheduler) on env's settings, reading the schedule rows every
    tick_seconds; yielded once its scheduler has loaded them."""
    workdir = Path(tempfile.mkdtemp(prefix="beat-"))
    args = [PYTHON, "-m", "celery", "-A", "config", "beat", "-l", "debug"]
    args += ["-s", str(workdir / "schedule"), "--pidfile", str(workdir / "beat.pid")]
    beat = Child("celery-beat", args, {**env, "CELERY_BEAT_MAX_LOOP_INTERVAL": str(tick_seconds)})
    try:
        beat.wait_for("beat: Waking up", timeout)
        yield beat
    finally:
        beat.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def throughput(url: str, *, headers: dict[str, str] | None = None, seconds: int = 6, connections: int = 16) -> float:
    """Requests per second that succeed (2xx) against url."""
    if shutil.which("wrk"):
        # One load thread: on a small machine a second one takes the core daphne and Redis need.
        args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
        for name, value in (headers or {}).items():
            args += ["-H", f"{name}: {value}"]
        output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
        if "Non-2xx" in output:
            raise RuntimeError(f"non-2xx responses during the run:\n{output}")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return _httpx_throughput(url, headers or {}, seconds, connections)


def _httpx_throughput(url: str, headers: dict[str, str], seconds: int, connections: int) -> float:
    import asyncio

    import httpx

    async def run() -> float:
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker(client: httpx.AsyncClient) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                response = await client.get(url, headers=headers)
                response.raise_for_status()
                done += 1

        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=connections)) as client:
            started = time.perf_counter()
            await asyncio.gather(*(worker(client) for _ in range(connections)))
            return done / (time.perf_counter() - started)

    return asyncio.run(run())


def compare(
    base_url: str, baseline: str, candidate: str, headers: dict[str, str], rounds: int = 5, seconds: int = 6
) -> tuple[float, float]:
    """Interleaved runs (baseline, candidate, ...) so drift hits both; returns the median req/s of each."""
    throughput(base_url + baseline, seconds=2)  # warm-up
    throughput(base_url + candidate, headers=headers, seconds=2)
    base_runs, cand_runs = [], []
    for _ in range(rounds):
        base_runs.append(throughput(base_url + baseline, seconds=seconds))
        cand_runs.append(throughput(base_url + candidate, headers=headers, seconds=seconds))
    return statistics.median(base_runs), statistics.median(cand_runs)
