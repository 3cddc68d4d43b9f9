"""Fleet worker processes (``botex-cli worker``) for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
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

    def start(self, name: str, concurrency: int = 3, **extra_env: str) -> None:
        with open(self.log_folder / f"{name}.log", "a") as log:
            self.processes[name] = subprocess.Popen(
                [BOTEX_CLI, "worker", "-Q", QUEUE, "-c", str(concurrency), "-n", f"{name}@test", "-l", "INFO"],
                env={**self.env, **extra_env}, cwd=REPO, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
            )

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
