"""deploy/podman_kinds.py: what goes to `podman kube play`, what is named and left out, and the secrets."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "podman_kinds.py"
MANIFESTS = """
apiVersion: v1
kind: Namespace
metadata: {name: botex}
---
apiVersion: v1
kind: Secret
metadata: {name: botex-secrets}
stringData: {REDIS_PASSWORD: "s3cret"}
data: {OTREE_REST_KEY: a2V5}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: botex-config}
data: {BOTEX_WORKER_CONCURRENCY: "4"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: botex-worker}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: botex-worker}
"""


def test_deployments_and_configmaps_are_played_secrets_written_out_the_rest_named(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--secrets", str(tmp_path / "secrets")],
        input=MANIFESTS, capture_output=True, text=True, check=True,
    )
    played = [(m["kind"], m["metadata"]["name"]) for m in yaml.safe_load_all(result.stdout)]
    assert played == [("ConfigMap", "botex-config"), ("Deployment", "botex-worker")]
    left_out = result.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in left_out] == [
        "Namespace botex", "StatefulSet redis", "ScaledObject botex-worker",
    ]
    assert "KEDA" in left_out[2]
    secret = json.loads((tmp_path / "secrets" / "botex-secrets.json").read_text())
    assert {key: base64.b64decode(value).decode() for key, value in secret.items()} == {
        "REDIS_PASSWORD": "s3cret", "OTREE_REST_KEY": "key",
    }
