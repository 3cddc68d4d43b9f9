"""The report's plots, drawn with matplotlib and embedded as SVG data URLs (no network to view them)."""

from __future__ import annotations

import base64
import io

from matplotlib.figure import Figure

from botex_fleet.report.data import Group, Interval, PlayerField, group_label

WIDTH = 7.0
HEIGHT = 3.2


def _svg_data_url(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _figure() -> Figure:
    figure = Figure(figsize=(WIDTH, HEIGHT), layout="constrained")
    figure.set_facecolor("white")
    return figure


def box_plot(values: dict[Group, list[float]], ylabel: str) -> str:
    """A box per group with its values as points, mean marked."""
    figure = _figure()
    axes = figure.add_subplot()
    groups = list(values)
    axes.boxplot([values[group] for group in groups], showmeans=True)
    for position, group in enumerate(groups, start=1):
        points = values[group]
        spread = [position + 0.08 * ((index % 5) - 2) for index in range(len(points))]
        axes.scatter(spread, points, s=8, alpha=0.5, color="tab:blue", zorder=3)
    axes.set_xticks(range(1, len(groups) + 1), [group_label(group) for group in groups], rotation=15, ha="right")
    axes.set_ylabel(ylabel)
    axes.grid(axis="y", alpha=0.3)
    return _svg_data_url(figure)


def bar_plot(player_field: PlayerField, groups: list[Group]) -> str:
    """Bars of how often each value was chosen, side by side for the groups."""
    figure = _figure()
    axes = figure.add_subplot()
    choices = player_field.choices()
    shown = [group for group in groups if group in player_field.values]
    width = 0.8 / max(len(shown), 1)
    for index, group in enumerate(shown):
        counts = player_field.counts(group)
        offsets = [position + (index - (len(shown) - 1) / 2) * width for position in range(len(choices))]
        axes.bar(offsets, [counts.get(choice, 0) for choice in choices], width, label=group_label(group))
    axes.set_xticks(range(len(choices)), [choice[:24] for choice in choices], rotation=15 if len(choices) > 4 else 0)
    axes.set_ylabel("answers")
    axes.legend(fontsize="small")
    axes.grid(axis="y", alpha=0.3)
    return _svg_data_url(figure)


def round_plot(by_round: dict[Group, dict[int, list[float]]], ylabel: str) -> str:
    """Each group's mean per round with its 95% interval."""
    figure = _figure()
    axes = figure.add_subplot()
    for group, rounds in by_round.items():
        numbers = sorted(rounds)
        intervals = [Interval.of(rounds[number]) for number in numbers]
        means = [interval.mean for interval in intervals]
        errors = [[mean - interval.low for mean, interval in zip(means, intervals)],
                  [interval.high - mean for mean, interval in zip(means, intervals)]]
        axes.errorbar(numbers, means, yerr=errors, marker="o", capsize=4, label=group_label(group))
    axes.set_xlabel("round")
    axes.set_ylabel(f"mean {ylabel}")
    axes.set_xticks(sorted({number for rounds in by_round.values() for number in rounds}))
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return _svg_data_url(figure)


def counts_plot(counts: dict[str, int], xlabel: str) -> str:
    """Bars of how often each answer was given (at most the 12 most frequent)."""
    figure = _figure()
    axes = figure.add_subplot()
    shown = sorted(counts.items(), key=lambda item: -item[1])[:12]
    axes.bar(range(len(shown)), [count for _, count in shown], color="tab:blue")
    axes.set_xticks(range(len(shown)), [answer[:24] for answer, _ in shown], rotation=15 if len(shown) > 4 else 0)
    axes.set_xlabel(xlabel[:80])
    axes.set_ylabel("bots")
    axes.grid(axis="y", alpha=0.3)
    return _svg_data_url(figure)
