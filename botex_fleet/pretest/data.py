"""What the bots made of each page of an experiment, read from the store and from oTree's page times.

A page is known by its index in the participant's page sequence (the same
page has the same index for every participant of a session config), with its
app, page class and round. For each page: how many bots reached it, their
time on it (and the part of it their LLM took), oTree's rejections of their
answers, the bots that stayed confused, the answers and reasons per field, the
bots' summaries, and the bots stuck there; pages of the sequence no bot
reached; and the bots' remarks at the end of the study.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from botex_core.otree.client import OtreeClient
from botex_core.otree.position import ParticipantPosition, positions_in_export
from botex_core.progress import SessionProgress, session_progress
from botex_core.store import Answer, LLMExchange, Participant, Rejection, session_scope

# A few of the bots' words per page and field: enough to see what they made of it.
EXAMPLES = 3
# A page is slow when bots spent this many times the median time of all pages on it, and at least SLOW_SECONDS.
SLOW_FACTOR = 3.0
SLOW_SECONDS = 30.0
_STUCK = re.compile(r"^stuck on (?P<page>\S+): .*?oTree has it on page (?P<index>\d+) of \d+ \((?P<app>[^/)]+)/")
_PHASE = re.compile(r"^(?:page|live):(?P<index>\d+):(?P<page>.+)$")


@dataclass
class FieldAnswers:
    """The answers the bots gave to one field of a page, and a few of their reasons."""

    question_id: str
    label: str
    counts: Counter[str] = field(default_factory=Counter)
    reasons: list[str] = field(default_factory=list)


@dataclass
class PageFindings:
    """What the bots made of one page."""

    index: int
    app: str = ""
    page: str = ""
    round: int | None = None
    bots: set[str] = field(default_factory=set)
    seconds: list[float] = field(default_factory=list)
    # The LLM's seconds for this page, by bot.
    llm_seconds: dict[str, float] = field(default_factory=dict)
    # (bot, the try oTree rejected, oTree's messages)
    rejections: list[tuple[str, int, list[str]]] = field(default_factory=list)
    confused: list[str] = field(default_factory=list)
    fields: dict[str, FieldAnswers] = field(default_factory=dict)
    summaries: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """The page's id in the report."""
        return f"page-{self.index}"

    # Whether the experiment has rounds (then a page's title names its round).
    rounds_matter: bool = False

    @property
    def title(self) -> str:
        """App, page and round, as the report names the page."""
        round_ = f", round {self.round}" if self.rounds_matter and self.round else ""
        return f"{self.app}/{self.page}{round_}"

    def llm_seconds_per_bot(self) -> list[float]:
        """Each bot's LLM seconds on this page."""
        return list(self.llm_seconds.values())

    def rejection_counts(self) -> tuple[int, Counter[str], dict[str, int]]:
        """How many rejections, how often each field was named, and the most tries a bot needed."""
        fields: Counter[str] = Counter(message.split(":", 1)[0] for _, _, messages in self.rejections
                                       for message in messages if ":" in message)
        tries: dict[str, int] = {}
        for bot, attempt, _ in self.rejections:
            tries[bot] = max(tries.get(bot, 1), attempt + 1)
        return len(self.rejections), fields, tries


@dataclass
class PretestFindings:
    """The pretest of the sessions ``codes``: their pages in order, what no bot reached, and the remarks."""

    codes: list[str]
    pages: list[PageFindings]
    unreached: list[int]
    last_page: int | None
    remarks: list[str]
    models: list[str]
    progress: SessionProgress

    @property
    def flagged(self) -> list[PageFindings]:
        """The pages to look at first."""
        return [page for page in self.pages if page.flags]


def read_findings(botex_db: str, codes: list[str], client: OtreeClient) -> PretestFindings:
    """What the bots of the sessions ``codes`` made of each page (oTree's data through ``client``)."""
    pages: dict[int, PageFindings] = {}
    find = lambda index: pages.setdefault(index, PageFindings(index))  # noqa: E731
    bots, models, remarks = _bots_and_remarks(botex_db, codes, find)
    _read_page_times(client, codes, bots, find)
    _read_answers(botex_db, codes, find)
    _read_rejections(botex_db, codes, find)
    positions = {}
    for code in codes:
        positions.update(positions_in_export(client.export_wide(code)))
    last = max((position.last for participant, position in positions.items() if participant in bots), default=None)
    _read_current_pages(positions, bots, find)
    ordered = [pages[index] for index in sorted(pages)]
    rounds = {page.round for page in ordered if page.round}
    for page in ordered:
        page.rounds_matter = len(rounds) > 1
    _flag(ordered)
    unreached = [index for index in range(1, (last or 0) + 1) if index not in pages]
    progress = SessionProgress.combined([session_progress(code, botex_db) for code in codes])
    return PretestFindings(codes, ordered, unreached, last, remarks, sorted(models), progress)


def _bots_and_remarks(botex_db: str, codes: list[str], find: Any) -> tuple[set[str], set[str], list[str]]:
    """The sessions' bots, their models and remarks; what their LLM exchanges tell of each page."""
    with session_scope(botex_db) as session:
        bots = session.execute(select(Participant).where(Participant.session_id.in_(codes), Participant.is_human == 0))
        rows = [(row.participant_id, row.model, row.status, row.status_reason) for row in bots.scalars()]
        exchanges = session.execute(select(LLMExchange.participant_id, LLMExchange.phase, LLMExchange.response,
                                           LLMExchange.latency_seconds)
                                    .where(LLMExchange.session_id.in_(codes)).order_by(LLMExchange.id)).all()
    last_reply: dict[tuple[str, int], dict[str, Any]] = {}
    remarks = []
    for participant, phase, response, latency in exchanges:
        reply = _json(response)
        if phase == "end" and reply.get("remarks") not in (None, "", "none"):
            remarks.append(str(reply["remarks"]))
        match = _PHASE.match(phase)
        if match is None:
            continue
        page = find(int(match["index"]))
        page.page = page.page or match["page"]
        page.bots.add(participant)
        page.llm_seconds[participant] = page.llm_seconds.get(participant, 0.0) + (latency or 0.0)
        if reply:
            last_reply[(participant, page.index)] = reply
    for (participant, index), reply in last_reply.items():
        page = find(index)
        if reply.get("confused"):
            page.confused.append(str(reply.get("summary") or ""))
        elif reply.get("summary") and len(page.summaries) < EXAMPLES:
            page.summaries.append(str(reply["summary"]))
    for participant, _, status, reason in rows:
        stuck = _STUCK.match(reason or "") if status == "failed" else None
        if stuck:
            page = find(int(stuck["index"]))
            page.app, page.page = page.app or stuck["app"], page.page or stuck["page"]
            page.stuck.append(reason or "")
            page.bots.add(participant)
    return {row[0] for row in rows}, {row[1] for row in rows if row[1]}, remarks


def _read_page_times(client: OtreeClient, codes: list[str], bots: set[str], find: Any) -> None:
    """Each bot's time on each page it completed: since it completed the page before."""
    rows = [row for row in csv.DictReader(io.StringIO(client.export_page_times().decode("utf-8-sig")))
            if row["session_code"] in codes and row["participant_code"] in bots]
    by_bot: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_bot[row["participant_code"]].append(row)
    for bot, visits in by_bot.items():
        visits.sort(key=lambda row: int(row["page_index"]))
        for before, visit in zip(visits, visits[1:]):
            page = find(int(visit["page_index"]))
            page.app, page.page = visit["app_name"], visit["page_name"]
            page.round = int(visit["round_number"]) if visit["round_number"] else None
            page.bots.add(bot)
            if visit.get("is_wait_page") not in ("1", "True"):
                page.seconds.append(float(visit["epoch_time_completed"]) - float(before["epoch_time_completed"]))


def _read_current_pages(positions: dict[str, ParticipantPosition], bots: set[str], find: Any) -> None:
    """The page oTree has each bot on now: reached, though never completed (a last page, a dead end)."""
    for participant, position in positions.items():
        if participant in bots and position.index > 0 and position.page:
            page = find(position.index)
            page.app, page.page = page.app or position.app, page.page or position.page
            page.bots.add(participant)


def _read_answers(botex_db: str, codes: list[str], find: Any) -> None:
    with session_scope(botex_db) as session:
        answers = session.scalars(select(Answer).where(Answer.session_id.in_(codes)).order_by(Answer.id)).all()
        for answer in answers:
            page = find(answer.page_index or 0)
            page.app, page.page = page.app or answer.app or "", page.page or answer.page or ""
            page.round = page.round or answer.round
            answers_of = page.fields.setdefault(answer.question_id, FieldAnswers(answer.question_id, answer.label or ""))
            answers_of.counts[answer.answer or ""] += 1
            if answer.reason and len(answers_of.reasons) < EXAMPLES:
                answers_of.reasons.append(answer.reason)


def _read_rejections(botex_db: str, codes: list[str], find: Any) -> None:
    with session_scope(botex_db) as session:
        for rejection in session.scalars(select(Rejection).where(Rejection.session_id.in_(codes))):
            page = find(rejection.page_index or 0)
            page.app, page.page = page.app or rejection.app or "", page.page or rejection.page or ""
            page.rejections.append((rejection.participant_id, rejection.attempt, rejection.errors.splitlines()))


def _flag(pages: list[PageFindings]) -> None:
    """Flag what a researcher should look at: rejections, confusion, slow pages, dead ends."""
    medians = [statistics.median(page.seconds) for page in pages if page.seconds]
    typical = statistics.median(medians) if medians else 0.0
    for page in pages:
        if page.stuck:
            page.flags.append(f"a dead end: {len(page.stuck)} bot(s) stuck on it (no way on before the last page)")
        if page.rejections:
            count, fields, _ = page.rejection_counts()
            named = f" ({', '.join(sorted(fields))})" if fields else ""
            page.flags.append(f"oTree rejected answers {count} time(s){named}")
        if page.confused:
            page.flags.append(f"{len(page.confused)} bot(s) stayed confused")
        if page.seconds:
            median = statistics.median(page.seconds)
            if median >= max(SLOW_FACTOR * typical, SLOW_SECONDS):
                page.flags.append(f"slow: {median:.0f} s at the median, against {typical:.0f} s for a page")


def _json(text: str | None) -> dict[str, Any]:
    try:
        reply = json.loads(text or "", strict=False)
    except ValueError:
        return {}
    return reply if isinstance(reply, dict) else {}
