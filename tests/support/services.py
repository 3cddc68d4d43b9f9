"""Throwaway Redis and PostgreSQL servers for the tests, on free loopback ports."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float) -> None:
    """Block until something accepts connections on ``port``, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


@dataclass
class RedisServer:
    """A redis-server process, without persistence unless ``appendonly``; it can be restarted in place."""

    port: int
    process: subprocess.Popen
    folder: str
    appendonly: bool = False
    password: str | None = None
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        login = f":{self.password}@" if self.password else ""
        return f"redis://{login}{self.host}:{self.port}/0"

    @classmethod
    def start(cls, folder: str, appendonly: bool = False, password: str | None = None, host: str = "127.0.0.1") -> RedisServer:
        """A server on a free port; ``host`` is an address it listens on besides 127.0.0.1, used in its URL."""
        port = free_port()
        server = cls(port, None, folder, appendonly, password, host)  # type: ignore[arg-type]
        server.process = server._launch()
        return server

    def _launch(self) -> subprocess.Popen:
        command = [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--port", str(self.port), "--bind", *sorted({"127.0.0.1", self.host}), "--dir", self.folder,
            "--save", "", "--appendonly", "yes" if self.appendonly else "no",
        ]
        if self.password:
            command += ["--requirepass", self.password]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 10)
        return process

    def restart(self, down_seconds: float = 2.0, lose_data: bool = False) -> None:
        """Stop the server, wait, and start it again; what it held survives with ``appendonly``
        unless ``lose_data`` (a restart as if persistence were off)."""
        self.stop()
        if lose_data:
            for path in Path(self.folder).glob("appendonly*"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        time.sleep(down_seconds)
        self.process = self._launch()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster in a temporary folder, trusting local connections."""

    port: int
    data_dir: str
    bin_dir: str
    run_as: list[str]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls) -> PostgresCluster:
        bin_dir = postgres_bin_dir()
        root = tempfile.mkdtemp(prefix="botex-pg-")
        data_dir = os.path.join(root, "data")
        run_as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            account = pwd.getpwnam("postgres")
            os.chown(root, account.pw_uid, account.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        port = free_port()
        subprocess.run(
            [*run_as, f"{bin_dir}/initdb", "-D", data_dir, "-U", "postgres",
             "--auth=trust", "--no-sync", "-E", "UTF8"],
            check=True, stdout=subprocess.DEVNULL,
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*run_as, f"{bin_dir}/pg_ctl", "-D", data_dir, "-o", options,
             "-l", os.path.join(root, "postgres.log"), "-w", "start"],
            check=True, stdout=subprocess.DEVNULL,
        )
        return cls(port, data_dir, bin_dir, run_as)

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, f"{self.bin_dir}/pg_ctl", "-D", self.data_dir, "-m", "immediate", "stop"],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(os.path.dirname(self.data_dir), ignore_errors=True)


def postgres_bin_dir() -> str:
    """The bin folder of the newest installed PostgreSQL."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return os.path.dirname(candidates[-1])
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup-system.sh")
    return os.path.dirname(os.path.realpath(initdb))
