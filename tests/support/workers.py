"""Fleet worker processes (``botex-cli worker``) for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
BOTEX_CLI = str(Path(sys.executable).with_name("botex-cli"))
QUEUE = "botex.openai"


class Workers:
    """Worker processes, each in its own process group (with its browsers), logging to files."""

    def __init__(self, env: Mapping[str, str], log_folder: Path) -> None:
        self.env = env
        self.log_folder = log_folder
        self.processes: dict[str, subprocess.Popen] = {}

    def start(
        self, name: str, concurrency: int = 3, queues: str | None = QUEUE, prefix: Sequence[str] = (), **extra_env: str
    ) -> None:
        """Start a worker; ``queues`` None starts it with the default queues, ``prefix`` goes before
        the command (to run it in a network namespace)."""
        chosen = ["-Q", queues] if queues else []
        with open(self.log_folder / f"{name}.log", "a") as log:
            self.processes[name] = subprocess.Popen(
                [*prefix, BOTEX_CLI, "worker", *chosen, "-c", str(concurrency), "-n", f"{name}@test", "-l", "INFO"],
                env={**self.env, **extra_env}, cwd=REPO, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
            )

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        """Block until the worker says it is ready to take bots."""
        log = self.log_folder / f"{name}.log"
        deadline = time.monotonic() + timeout
        while f"{name}@test ready." not in log.read_text():
            if time.monotonic() > deadline or not self.alive(name):
                raise TimeoutError(f"worker {name} did not get ready:\n{self.logs()}")
            time.sleep(0.2)

    def alive(self, name: str) -> bool:
        """Whether the worker still runs."""
        return self.processes[name].poll() is None

    def exit_code(self, name: str) -> int | None:
        """The worker's exit code, None while it runs."""
        return self.processes[name].poll()

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n" + path.read_text()[-3000:] for path in sorted(self.log_folder.glob("*.log")))

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
