"""Settings are resolved where a process enters, and every variable of the settings classes is documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import botex_fleet
from botex_core.settings import BotexSettings, CommandSettings, LlamaCppSettings, OtreeSettings
from botex_worker.settings import FleetSettings

REPO = Path(__file__).resolve().parents[2]
# What reads settings from the environment.
RESOLVERS = {"resolve", "fleet_settings", "botex_db_setting", "otree_server_url_setting", "otree_rest_key_setting",
             "resolved"}
# Where a process enters: the public API, a task's start (and its failure), a worker's start, the Celery
# app's configuration; and the resolvers themselves. The commands (botex_cli) are entry points throughout.
ENTRY_POINTS = {
    *botex_fleet.__all__,
    "BotTask.play", "BotTask.on_failure", "configure_app", "app.<lambda>", "_start_with_the_worker",
    "botex_db_setting", "otree_server_url_setting", "otree_rest_key_setting", "fleet_settings",
    "OtreeClient.resolved", "Submission.resolved",
}


def resolving_functions(path: Path) -> set[str]:
    """The (qualified) functions of a module that call a resolver."""
    found: set[str] = set()

    def visit(node: ast.AST, stack: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, [*stack, child.name])
            elif isinstance(child, ast.Lambda):
                visit(child, [*stack, f"{path.stem}.<lambda>" if not stack else "<lambda>"])
            else:
                if isinstance(child, ast.Call):
                    called = child.func.id if isinstance(child.func, ast.Name) else getattr(child.func, "attr", "")
                    if called in RESOLVERS:
                        found.add(".".join(stack) or "<module>")
                visit(child, stack)

    visit(ast.parse(path.read_text()), [])
    return found


def test_no_function_below_an_entry_point_resolves_settings() -> None:
    below = [f"{path.relative_to(REPO)}: {function}"
             for layer in ("botex_core", "botex_worker", "botex_fleet")
             for path in sorted((REPO / layer).rglob("*.py"))
             for function in resolving_functions(path) if function not in ENTRY_POINTS]
    assert not below, "resolve settings at an entry point and pass the values down: " + ", ".join(below)


def test_the_check_finds_a_function_that_resolves_below_an_entry_point(tmp_path: Path) -> None:
    module = tmp_path / "helper.py"
    module.write_text("def helper():\n    return resolve(BotexSettings).db\n")
    assert resolving_functions(module) == {"helper"}


def test_every_variable_of_the_settings_classes_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    table = {name for row in readme.splitlines() if row.startswith("| `") for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}
    variables = {
        f"{settings.model_config.get('env_prefix', '')}{name}".upper()
        for settings in (BotexSettings, OtreeSettings, LlamaCppSettings, FleetSettings, CommandSettings)
        for name in settings.model_fields
    }
    assert not variables - table, f"settings without a row in README's configuration table: {sorted(variables - table)}"
