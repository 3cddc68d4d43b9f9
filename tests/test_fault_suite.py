"""The fault suite's quick form: every fault once, and no bot left behind, nothing lost or stored twice."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

FAULTS = 11

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the suite cuts a worker's network namespace, which needs root")


@pytest.mark.timeout(1500)
def test_the_quick_fault_suite_heals_every_fault() -> None:
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "faults.py"), "--quick"], cwd=REPO,
                            capture_output=True, text=True, timeout=1500)
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert lines[-1].startswith(f"faults: {FAULTS} injected, bots ") and lines[-1].endswith("answers lost 0, duplicated 0")
    finished, total = lines[-1].split("bots ")[1].split(" finished")[0].split("/")
    assert finished == total and int(total) >= 2 * FAULTS
    print("\n".join(lines[-FAULTS - 3:]))
