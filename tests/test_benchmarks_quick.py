"""The benchmarks' quick forms: each runs to its table, so that none can rot unseen.

The figures are not held to targets here (timing on a shared CI machine says little); the tests
check that every run finished and that each measure is there and above zero. The faults and live
benchmarks have quick forms of their own (tests/test_fault_suite.py, tests/test_live_benchmark.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

def run_benchmark(arguments: list[str], timeout: float) -> str:
    """Run a benchmark script with ``arguments`` (the first one the script, a path under benchmarks/),
    return what it printed; a shell script runs with bash."""
    script = REPO / "benchmarks" / arguments[0]
    runner = ["bash"] if script.suffix == ".sh" else [sys.executable]
    result = subprocess.run([*runner, str(script), *arguments[1:]], cwd=REPO, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    print(result.stdout)
    return result.stdout


def cells(output: str, first_cell: str) -> list[str]:
    """The cells of the markdown table row of ``output`` that starts with ``first_cell``."""
    row = next(line for line in output.splitlines() if line.startswith(f"| {first_cell} |"))
    return [cell.strip() for cell in row.strip("|").split("|")]


@pytest.mark.timeout(600)
def test_the_scale_benchmark_runs_http_bots_to_the_end_and_measures_the_worker(tmp_path: Path) -> None:
    output = run_benchmark(["scale.py", "--sizes", "20", "--latency", "1", "--pinned", "--profile", str(tmp_path)], 600)
    row = cells(output, "20")
    assert row[1] == "20", row  # every bot finished
    # pages/s, ideal, plain client, ratio, the worker's CPU ms per page and its ratio to oTree's
    assert all(float(row[index]) > 0 for index in (3, 4, 6, 7, 9, 10)), row
    shares = [float(cells(output, part)[1].rstrip("%")) for part in ("LLM client (LiteLLM)", "store (SQLAlchemy, psycopg)")]
    assert all(share > 0 for share in shares), output  # the profile found both at work


@pytest.mark.timeout(600)
def test_the_fleet_benchmark_enqueues_and_plays_bots_on_a_worker() -> None:
    output = run_benchmark(["fleet.py", "--enqueue", "200", "--workers", "1", "--latency", "0.5"], 600)
    measured = [line for line in output.splitlines()
                if line.startswith(("enqueue 200 bots", "enqueue to start", "bots/min, 1 worker"))]
    assert len(measured) == 3, output
    # measure (46 characters), value, baseline, ratio, what the baseline is
    assert all(float(value) > 0 for line in measured for value in line[46:].split()[:3]), output


@pytest.mark.timeout(600)
def test_the_bot_overhead_benchmark_measures_both_drivers() -> None:
    output = run_benchmark(["bot_overhead.py", "--bots", "2"], 600)
    for driver in ("http", "browser"):
        line = next(line for line in output.splitlines() if line.startswith(f"{driver}: bot time per page"))
        assert all(float(value) > 0 for value in line[52:].split()), output  # value, baseline, ratio


@pytest.mark.timeout(1200)
def test_the_comparison_with_the_original_botex_plays_a_pair_with_each() -> None:
    # run.sh installs botex 0.2.0 from PyPI into the cache the first time (about half a minute).
    output = run_benchmark(["compare_botex/run.sh", "--bots", "2", "--drivers", "http", "--latency", "0.2"], 1200)
    finished = {line.split()[0] for line in output.splitlines()
                if line.startswith(("original ", "embedded http ", "fleet http ")) and line.rstrip().endswith("2/2")}
    assert finished == {"original", "embedded", "fleet"}, output  # every system, every bot finished
    ratios = [line for line in output.splitlines() if line.startswith(("embedded http", "fleet http"))][-2:]
    # wall, CPU, MB per bot and prompt tokens per finished bot, each to the original's
    assert all(float(value) > 0 for line in ratios for value in line.split()[3:]), output


@pytest.mark.timeout(600)
def test_the_estimate_benchmark_plans_and_plays_an_experiment() -> None:
    output = run_benchmark(["estimate.py", "--sessions", "1", "--stand-in"], 600)
    assert "real session 1: bots 2/2 done (2 finished)" in output, output
    for measure in ("LLM calls", "prompt tokens", "completion tokens"):
        line = next(line for line in output.splitlines() if line.startswith(measure))
        assert all(float(value) > 0 for value in line[22:].split()), output  # estimates, real, ratio
