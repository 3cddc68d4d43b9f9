"""The oTree server of the tests, with a watchdog for the rare moment it stops answering.

oTree's server (uvicorn 0.13 with websockets 10.1) now and then stops answering
after browsers drop their wait-page websockets. When that happens the tests
would all fail one after another, so the watchdog dumps the server's Python
stacks into its log (faulthandler on SIGUSR1), reports them as a test warning,
and starts the server again on the same port. The server also writes a report
of its own when its event loop or its request lock gets stuck
(``otree_hang_report/sitecustomize.py``, through ``HANG_REPORT_PATH``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import requests

from botex_fleet import start_otree_server, stop_otree_server

HANG_REPORT_PATH = str(Path(__file__).resolve().parent / "otree_hang_report")


class OtreeService:
    """One ``otree devserver`` in STUDY mode, restartable on the same port."""

    def __init__(self, executable: str, project: Path, port: int, rest_key: str, admin_password: str) -> None:
        self.executable = executable
        self.project = project
        self.port = port
        self.rest_key = rest_key
        self.admin_password = admin_password
        self.log_file = project.parent / "otree.log"
        self.url = f"http://localhost:{port}"
        self.restarts = 0
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        previous = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = HANG_REPORT_PATH
        try:
            self._process = start_otree_server(
                project_path=str(self.project), port=self.port, log_file=str(self.log_file),
                auth_level="STUDY", rest_key=self.rest_key, admin_password=self.admin_password,
                timeout=60, otree_executable=self.executable,
            )
        finally:
            if previous is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = previous

    def stop(self) -> None:
        if self._process is not None:
            stop_otree_server(self._process)
            self._process = None

    def answers(self, timeout: float = 15.0) -> bool:
        """Whether the server answers a REST call within ``timeout`` seconds."""
        try:
            response = requests.get(f"{self.url}/api/otree_version", headers={"otree-rest-key": self.rest_key}, timeout=timeout)
        except requests.RequestException:
            return False
        return response.ok

    def restart_if_hung(self, before: str) -> None:
        """Restart a server that stopped answering, and warn with its stacks."""
        if self._process is None or self.answers():
            return
        os.killpg(self._process.pid, signal.SIGUSR1)
        time.sleep(1)
        stacks = self.log_file.read_text(errors="replace")[-6000:]
        self.log_file.with_name(f"otree-hung-{self.restarts}.log").write_text(stacks)
        self.stop()
        self.start()
        self.restarts += 1
        warnings.warn(f"oTree stopped answering before {before}; restarted it. Its log and stacks:\n{stacks}")
