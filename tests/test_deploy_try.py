"""The container deployment run for real: `deploy/try.sh` with Podman.

It builds the images, brings compose.yaml up, plays sessions through a worker
restart, then plays the Kubernetes workers and Flower with `podman kube play`;
this test holds it to the summary it prints.
"""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(1800)
def test_the_container_deployment_plays_its_bots_through_compose_and_kube_play() -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("BOTEX_", "OTREE_"))}
    result = subprocess.run(
        ["bash", "deploy/try.sh"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=1700,
    )
    log = result.stderr[-6000:]
    assert result.returncode == 0, log
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("deploy/try.sh: 12/12 bots finished (4 in Chromium), 120 answers in PostgreSQL"), log
    assert "worker restart survived" in summary and "(401 without, 200 with)" in summary, log
    assert "kube play: 4/4 bots finished on the Kubernetes worker" in summary, log
    print(log)
