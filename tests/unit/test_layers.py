"""The shape of the code: layers run one way, settings come from the settings modules, one ledger."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAYERS = ["botex_core", "botex_worker", "botex_fleet", "botex_cli"]
SETTINGS_MODULES = {"botex_core/settings.py", "botex_worker/settings.py"}
LEDGER = "botex_core/store/ledger.py"


def modules() -> list[Path]:
    return [path for layer in LAYERS for path in sorted((REPO / layer).rglob("*.py"))]


def imported_packages(path: Path) -> set[str]:
    packages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            packages.add(node.module.split(".")[0])
    return packages


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(REPO)))
def test_no_module_imports_a_layer_above_its_own(path: Path) -> None:
    own = LAYERS.index(path.relative_to(REPO).parts[0])
    above = set(LAYERS[own + 1:])
    assert not imported_packages(path) & above


def test_only_the_settings_modules_touch_the_environment() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for path in modules()
        if str(path.relative_to(REPO)) not in SETTINGS_MODULES and re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text())
    ]
    assert not offenders


def test_only_the_ledger_writes_the_participants_table() -> None:
    writes = re.compile(r"update\(Participant\)|(?<!class )\bParticipant\(|participant\.(status|status_reason|lease_\w+|time_in|time_out|attempts)\s*=")
    offenders = [
        str(path.relative_to(REPO))
        for path in modules()
        if str(path.relative_to(REPO)) != LEDGER and writes.search(path.read_text())
    ]
    assert not offenders
    assert writes.search((REPO / LEDGER).read_text()), "the pattern must find the ledger's own writes"


def test_no_function_body_is_longer_than_60_lines() -> None:
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body[1:] if ast.get_docstring(node) and len(node.body) > 1 else node.body
                if node.end_lineno - body[0].lineno + 1 > 60:
                    long.append(f"{path.relative_to(REPO)}:{node.name}")
    assert not long
