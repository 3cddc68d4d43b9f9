"""The report page: the study's numbers and plots put into one HTML file with a Jinja2 template."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from botex_fleet.report import plots
from botex_fleet.report.data import Group, Interval, PlayerField, StudyData, group_label


def render_report(data: StudyData) -> str:
    """The whole report as one self-contained HTML document."""
    environment = Environment(loader=PackageLoader("botex_fleet.report", "templates"),
                              autoescape=select_autoescape(), trim_blocks=True, lstrip_blocks=True)
    environment.filters["group"] = group_label
    environment.filters["number"] = _number
    return environment.get_template("report.html.j2").render(
        manifest=data.manifest,
        summary=data.manifest["by_arm_and_model"],
        totals=data.manifest["totals"],
        payoffs=_payoffs(data.payoffs),
        fields=[_field(player_field, data.groups) for player_field in data.fields],
        reasons=data.reasons,
    )


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _intervals(values: dict[Group, list[float]]) -> list[tuple[Group, Interval]]:
    return [(group, Interval.of(numbers)) for group, numbers in values.items() if numbers]


def _payoffs(payoffs: dict[Group, list[float]]) -> dict[str, Any] | None:
    if not payoffs:
        return None
    return {"plot": plots.box_plot(payoffs, "payoff"), "intervals": _intervals(payoffs)}


def _field(player_field: PlayerField, groups: list[Group]) -> dict[str, Any]:
    """One player field: its plots and the numbers they show."""
    ordered = {group: player_field.values[group] for group in groups if group in player_field.values}
    shown: dict[str, Any] = {"app": player_field.app, "name": player_field.name, "shown_as": player_field.shown_as,
                             "plots": []}
    if player_field.shown_as == "bars":
        shown["plots"].append(plots.bar_plot(player_field, groups))
        shown["choices"] = player_field.choices()
        shown["counts"] = [(group, player_field.counts(group)) for group in ordered]
    elif player_field.shown_as == "box":
        shown["plots"].append(plots.box_plot(ordered, player_field.name))
    else:
        shown["examples"] = [(group, values[:3]) for group, values in ordered.items()]
    if player_field.numeric:
        shown["intervals"] = _intervals(ordered)
    if player_field.by_round:
        shown["plots"].append(plots.round_plot(
            {group: player_field.by_round[group] for group in groups if group in player_field.by_round},
            player_field.name))
    return shown
