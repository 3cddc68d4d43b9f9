"""The pretest report page: the findings of each page put into one HTML file with a Jinja2 template."""

from __future__ import annotations

import statistics
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from botex_fleet.pretest.data import PageFindings, PretestFindings
from botex_fleet.report import plots

# Fields with at most this many different answers get a bar plot; the others show examples.
MOST_BARS = 12


def render_pretest(findings: PretestFindings, title: str) -> str:
    """The whole pretest report as one self-contained HTML document."""
    environment = Environment(loader=PackageLoader("botex_fleet.pretest", "templates"),
                              autoescape=select_autoescape(), trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("pretest.html.j2").render(
        title=title, findings=findings, pages=[_page(page) for page in findings.pages],
        unreached=_ranges(findings.unreached),
    )


def _page(page: PageFindings) -> dict[str, Any]:
    count, fields, tries = page.rejection_counts()
    messages = sorted({message for _, _, lines in page.rejections for message in lines})
    return {
        "findings": page,
        "time": _spread(page.seconds),
        "llm_time": _spread(page.llm_seconds_per_bot()),
        "rejections": count,
        "rejected_fields": dict(fields),
        "rejection_messages": messages,
        "most_tries": max(tries.values(), default=0),
        "fields": [
            {"answers": answers, "plot": plots.counts_plot(answers.counts, answers.label or answers.question_id)
             if 1 < len(answers.counts) <= MOST_BARS or len(answers.counts) == 1 else None}
            for answers in page.fields.values()
        ],
    }


def _spread(seconds: list[float]) -> dict[str, float] | None:
    if not seconds:
        return None
    return {"median": statistics.median(seconds), "max": max(seconds)}


def _ranges(indices: list[int]) -> list[str]:
    """``[3, 4, 5, 9]`` as ``["3-5", "9"]``."""
    ranges: list[list[int]] = []
    for index in indices:
        if ranges and index == ranges[-1][-1] + 1:
            ranges[-1].append(index)
        else:
            ranges.append([index])
    return [f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in ranges]
