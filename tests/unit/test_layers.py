"""The shape of the code: layers run one way, settings come from the settings modules, one ledger."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
LAYERS = ["botex_core", "botex_worker", "botex_fleet", "botex_cli"]
SETTINGS_MODULES = {"botex_core/settings.py", "botex_worker/settings.py"}
LEDGER = "botex_core/store/ledger.py"


def modules() -> list[Path]:
    return [path for layer in LAYERS for path in sorted((REPO / layer).rglob("*.py"))]


def test_the_import_contracts_hold() -> None:
    """Layers one way, no import cycles within a package, commands through the public API except where
    pyproject.toml names why (import-linter's contracts, ``[tool.importlinter]``)."""
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in result.stdout


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
