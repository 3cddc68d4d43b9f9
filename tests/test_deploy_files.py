"""The deployment files, checked offline: compose.yaml against the Compose specification's schema,
every Kubernetes manifest (KEDA's included) against its schema, kustomize builds, and the image recipe
against the set-up scripts."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.keda import v1alpha1 as keda

from tests.conftest import REPO

KUBERNETES_VERSION = "1.30.0"
K8S = REPO / "deploy" / "k8s"
BUILDS = [K8S / "base", K8S / "overlays" / "large-fleet", K8S / "overlays" / "external-services"]
CHECK_JSONSCHEMA = str(Path(sys.executable).with_name("check-jsonschema"))


def kustomize(folder: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing: bash scripts/setup-deploy-checks.sh installs it"
    result = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def schema_problems(doc: dict[str, Any]) -> str | None:
    """Why ``doc`` breaks its schema (unknown fields included), or None."""
    if doc["apiVersion"].startswith("keda.sh/"):
        model = getattr(keda, doc["kind"])
        try:
            parsed = model.model_validate(doc)
        except ValueError as exc:
            return str(exc)
        if parsed.model_dump(by_alias=True, exclude_unset=True, mode="json") != doc:
            return "fields that KEDA's schema does not know"
        return None
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as exc:
        return str(exc)
    return None


def check_compose(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    result = check_compose(REPO / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    broken = yaml.safe_load((REPO / "compose.yaml").read_text())
    broken["services"]["worker"]["shm_sise"] = "1gb"
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(broken))
    assert check_compose(tmp_path / "compose.yaml").returncode != 0, "the schema check must catch a misspelt key"


def test_compose_services_profiles_and_env_file() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert {"redis", "postgres", "worker", "flower", "otree", "llamacpp"} <= set(services)
    assert services["otree"]["profiles"] == ["example"] and services["llamacpp"]["profiles"] == ["local-llm"]
    assert "container_name" not in services["worker"] and "ports" not in services["worker"], "worker must scale"
    assert "--appendonly yes" in " ".join(services["redis"]["command"]) and "--requirepass" in " ".join(services["redis"]["command"])
    assert "redis-data:/data" in services["redis"]["volumes"] and services["postgres"]["volumes"]
    example = (REPO / "botex.env.example").read_text()
    documented = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    used = set(re.findall(r"\$\$([A-Z][A-Z0-9_]+)", (REPO / "compose.yaml").read_text()))
    assert used <= documented
    assert {"BOTEX_BROKER_URL", "BOTEX_DB", "POSTGRES_PASSWORD", "FLOWER_BASIC_AUTH", "OTREE_REST_KEY"} <= documented
    ignored = subprocess.run(["git", "check-ignore", "-q", "botex.env"], cwd=REPO).returncode
    assert ignored == 0, "real env files must be ignored by git"


def test_every_variable_the_code_reads_is_documented_in_the_env_example() -> None:
    from botex_core.settings import EnvironmentSettings
    from botex_worker.settings import FleetSettings

    settings_classes = [FleetSettings, *EnvironmentSettings.__subclasses__()]
    read = {
        f"{cls.model_config.get('env_prefix', '')}{name}".upper()
        for cls in settings_classes for name in cls.model_fields
    }
    for source in [*REPO.glob("botex_core/**/*.py"), *REPO.glob("botex_worker/*.py"), *REPO.glob("botex_cli/*.py")]:
        read |= set(re.findall(r"""["']((?:BOTEX|OTREE|LLM|API|FLOWER|LLAMACPP)_[A-Z0-9_]+)["']""", source.read_text()))
    documented = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", (REPO / "botex.env.example").read_text(), flags=re.MULTILINE))
    assert {"BOTEX_LEASE_SECONDS", "LLAMACPP_TOP_K", "OTREE_REST_KEY"} <= read, "the search for variables is broken"
    missing = read - documented
    assert not missing, f"not in botex.env.example: {sorted(missing)}"


@pytest.mark.parametrize("folder", BUILDS, ids=lambda folder: folder.name)
def test_kustomize_builds_and_every_manifest_follows_its_schema(folder: Path) -> None:
    docs = kustomize(folder)
    kinds = {doc["kind"] for doc in docs}
    assert {"Namespace", "ConfigMap", "Secret", "Deployment", "ScaledObject", "TriggerAuthentication",
            "PodDisruptionBudget"} <= kinds
    problems = {f"{doc['kind']}/{doc['metadata']['name']}": schema_problems(doc) for doc in docs}
    assert not {name: problem for name, problem in problems.items() if problem}
    assert all(doc["metadata"].get("namespace") == "botex" for doc in docs if doc["kind"] != "Namespace")


def test_the_schema_checks_catch_mistakes() -> None:
    docs = {doc["kind"]: doc for doc in kustomize(K8S / "base")}
    worker = copy.deepcopy(docs["Deployment"])
    worker["spec"]["replicaz"] = 2
    assert schema_problems(worker)
    scaler = copy.deepcopy(docs["ScaledObject"])
    scaler["spec"]["maxReplicas"] = 10
    assert schema_problems(scaler)
    scaler = copy.deepcopy(docs["ScaledObject"])
    scaler["spec"]["maxReplicaCount"] = "many"
    assert schema_problems(scaler)


def test_the_worker_deployment_is_sized_for_its_browsers() -> None:
    docs = kustomize(K8S / "base")
    worker = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "botex-worker")
    pod = worker["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}} in pod["volumes"]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    assert "celery -A botex_worker.app inspect ping" in " ".join(container["livenessProbe"]["exec"]["command"])
    assert pod["terminationGracePeriodSeconds"] >= 120
    assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]
    scaler = next(d for d in docs if d["kind"] == "ScaledObject")
    trigger = scaler["spec"]["triggers"][0]
    assert trigger["type"] == "redis" and trigger["metadata"]["listName"] == "botex.openai"
    assert scaler["spec"]["scaleTargetRef"]["name"] == "botex-worker"
    large = {d["kind"]: d for d in kustomize(K8S / "overlays" / "large-fleet")}
    assert large["ScaledObject"]["spec"]["maxReplicaCount"] > scaler["spec"]["maxReplicaCount"]
    external = kustomize(K8S / "overlays" / "external-services")
    assert not [d for d in external if d["kind"] == "StatefulSet"]


def test_the_image_installs_through_the_tested_set_up_scripts() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "bash scripts/setup-system.sh worker" in dockerfile
    assert "bash scripts/setup-python.sh" in dockerfile
    assert re.search(r"^USER botex$", dockerfile, flags=re.MULTILINE)
    assert "HEALTHCHECK" in dockerfile and "inspect ping" in dockerfile
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, flags=re.MULTILINE):
        assert (REPO / copied).exists(), f"the Dockerfile copies {copied}, which does not exist"
    worker_packages = subprocess.run(["bash", "-c", "source <(sed -n '/^case/,/^esac/p' scripts/setup-system.sh); echo ${packages[*]}", "_", "worker"],
                                     cwd=REPO, capture_output=True, text=True)
    assert worker_packages.stdout.split() == ["chromium", "chromium-driver"]
