"""The scale benchmark's quick form: a small run of HTTP bots in one worker finishes and prints its table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.timeout(600)
def test_the_scale_benchmark_runs_http_bots_to_the_end() -> None:
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "scale.py"), "--sizes", "20", "--latency", "1"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith("| 20 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "20", row  # every bot finished
    assert all(float(cells[index]) > 0 for index in (3, 4, 6, 7)), row
    print(result.stdout)
