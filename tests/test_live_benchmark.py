"""The live benchmark's quick form: a small double auction in Chromium prints its table, every bot to the end."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.timeout(600)
def test_the_live_benchmark_plays_a_small_auction_to_its_end() -> None:
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "live.py"), "--sizes", "3", "--market", "20"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith("| 3 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[8] == "3/3", row  # every bot lived to the market's end
    assert float(cells[1]) > 0 and float(cells[2]) >= 1.0, row  # they acted, at least one call per action
    assert float(cells[11]) > 0, row  # a minute of the page has a price
    print(result.stdout)
