"""Keeps the Kubernetes objects that `podman kube play` runs and names the others.

Reads rendered manifests (``kubectl kustomize ...``) on standard input and
writes the Deployments and ConfigMaps to standard output; for every other
object it prints one line on standard error with the reason Podman does not
run it. Secrets go to ``--secrets DIR`` instead, one JSON file per Secret in
the form Podman's pods read a secret from (``podman secret create NAME FILE``):
Podman 4.3 stores a Secret of the played file in a form its own pods then fail
to read ("is not valid JSON", containers/podman#16269).
"""

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

import yaml

PLAYED = {"Deployment", "ConfigMap", "Pod", "PersistentVolumeClaim"}
NOT_A_KIND = "not a kind podman kube play knows"  # StatefulSet, among others
KEDA = "a KEDA resource: needs a cluster running KEDA's operator"
WHY_NOT = {
    "Namespace": "Podman has no namespaces: every pod runs on the one host",
    "Service": "no cluster DNS or virtual IPs: pods reach each other by name on a Podman network",
    "PodDisruptionBudget": "Podman neither drains nodes nor evicts pods",
    "ScaledObject": KEDA,
    "TriggerAuthentication": KEDA,
}


def secret_values(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret's values, base64-encoded, as Podman reads them from a secret of its own."""
    values = dict(secret.get("data") or {})
    for key, text in (secret.get("stringData") or {}).items():
        values[key] = base64.b64encode(str(text).encode()).decode()
    return values


def main() -> None:
    """Filter the manifests on standard input for Podman."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", type=Path, required=True, help="folder for the Secrets, NAME.json each")
    secrets_folder = parser.parse_args().secrets
    secrets_folder.mkdir(parents=True, exist_ok=True)
    played = []
    for manifest in yaml.safe_load_all(sys.stdin):
        if not manifest:
            continue
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        if kind in PLAYED:
            played.append(manifest)
        elif kind == "Secret":
            (secrets_folder / f"{name}.json").write_text(json.dumps(secret_values(manifest)))
        else:
            print(f"not played: {kind} {name}: {WHY_NOT.get(kind, NOT_A_KIND)}", file=sys.stderr)
    yaml.safe_dump_all(played, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
