"""Running a study: every session of every arm, each bot with the spec of its position."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from botex_core.bot.job import BotSettings
from botex_core.errors import ConfigurationError
from botex_core.otree import get_session_configs, init_otree_session
from botex_core.otree.client import OtreeClient
from botex_core.progress import SessionProgress, session_progress
from botex_core.settings import BotexSettings, OtreeSettings, resolve
from botex_core.store import ledger, utcnow
from botex_core.study.records import StoredStudy, prompts_sha256, save_study
from botex_core.study.spec import Arm, Study, assign_personas, read_study, study_from_dict
from botex_worker.dispatch import check_broker, check_priced, enqueue, run_in_process, session_bots, wait_until_ended
from botex_worker.queues import queue_for
from botex_worker.submission import Submission

logger = logging.getLogger(__name__)


@dataclass
class StudyRun:
    """A study's sessions as they were created: session codes by arm, and every bot."""

    name: str
    sessions: dict[str, list[str]] = field(default_factory=dict)
    bots: list[BotSettings] = field(default_factory=list)

    def progress(self, botex_db: str) -> dict[str, SessionProgress]:
        """How far each arm is, its sessions counted together."""
        return {arm: SessionProgress.combined([session_progress(code, botex_db) for code in codes])
                for arm, codes in self.sessions.items()}


class ArmProgress:
    """Shows each arm's progress line (``arm NAME: ...``) whenever it changes, from the sessions'
    creation (:meth:`start`, a fit for ``run_study``'s ``on_created``) until :meth:`stop`."""

    def __init__(self, botex_db: str, show: Callable[[str], None] = print, interval: float = 2.0) -> None:
        self._botex_db = botex_db
        self._show = show
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, played: StudyRun) -> None:
        """Start following the sessions of ``played``."""
        self._thread = threading.Thread(target=self._follow, args=(played,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Show the last lines and stop."""
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _follow(self, played: StudyRun) -> None:
        last: dict[str, str] = {}
        while True:
            stopping = self._stop.wait(self._interval)
            for arm, progress in played.progress(self._botex_db).items():
                line = progress.line()
                if last.get(arm) != line:
                    self._show(f"arm {arm}: {line}")
                    last[arm] = line
            if stopping:
                return


def run_study(
    study: str | Path | dict[str, Any],
    botex_db: str | None = None,
    otree_server_url: str | None = None,
    otree_rest_key: str | None = None,
    wait: bool = True,
    on_session: Callable[[str, str], None] | None = None,
    on_created: Callable[[StudyRun], None] | None = None,
    max_cost: float | None = None,
    max_tokens: int | None = None,
) -> StudyRun:
    """Create every session of a study and run its bots: in this process, or on the fleet when
    ``BOTEX_BROKER_URL`` is set. The file (or dict) is checked, and the oTree server's session
    configs and the models' providers too, before anything is created.

    Args:
        study: A study file's path, or the study as a dict (persona CSV files relative to the
            working folder).
        botex_db: Database file or SQLAlchemy URL; defaults to ``BOTEX_DB``.
        otree_server_url: defaults to ``OTREE_SERVER_URL``.
        otree_rest_key: defaults to ``OTREE_REST_KEY``.
        wait: Return when every bot has ended; else once the bots are on their way.
        on_session: Called with the arm and the code of each session as it is created.
        on_created: Called with the run once the sessions exist, before the bots start.
        max_cost, max_tokens: The study's spend cap, for all its bots together, in US dollars at
            the models' list prices and in tokens (default ``BOTEX_MAX_COST``, ``BOTEX_MAX_TOKENS``).

    Raises:
        ConfigurationError: A mistake in the study, an unknown session config or provider.
    """
    if isinstance(study, dict):
        spec, folder, source = study_from_dict(study), Path("."), json.dumps(study, indent=2)
    else:
        spec, folder, source = read_study(study), Path(study).parent, Path(study).read_text()
    local = resolve(BotexSettings, db=botex_db)
    otree = resolve(OtreeSettings, server_url=otree_server_url, rest_key=otree_rest_key)
    submission = Submission.resolved(max_cost=max_cost, max_tokens=max_tokens)
    _check_before_creating(spec, otree.server_url, otree.rest_key, submission)
    if not submission.embedded:
        check_broker()
    save_study(local.db, StoredStudy(
        spec.name, source, botex_fleet_version(), prompts_sha256(), otree.server_url,
        OtreeClient(otree.server_url, otree.rest_key).version(), utcnow(),
    ))
    run = StudyRun(spec.name)
    for arm in spec.arms:
        run.sessions[arm.name] = []
        for personas in assign_personas(arm, folder):
            code, bots = create_arm_session(spec, arm, personas, local.db, submission, otree.server_url, otree.rest_key)
            run.sessions[arm.name].append(code)
            run.bots.extend(bots)
            if on_session:
                on_session(arm.name, code)
    logger.info("study %s: %d session(s), %d bot(s)", spec.name, sum(map(len, run.sessions.values())), len(run.bots))
    if on_created:
        on_created(run)
    if submission.embedded:
        runner = threading.Thread(target=run_in_process, args=(run.bots, local.db, submission),
                                  name=f"study-{spec.name}")
        runner.start()
        if wait:
            runner.join()
        return run
    enqueue(run.bots, local.db, submission)
    if wait:
        wait_until_ended(run.bots, local.db)
    return run


def botex_fleet_version() -> str:
    """The installed botex-fleet's version, as a study's record keeps it."""
    import botex_fleet

    return botex_fleet.__version__


def check_session_configs(configs: list[str], otree_server_url: str, otree_rest_key: str | None) -> None:
    """Refuse session configs the oTree server does not have, naming the first (``arms.N.session_config``).

    Raises:
        ConfigurationError: One of ``configs`` (in the order of the arms) is unknown to the server.
    """
    known = {config["name"] for config in get_session_configs(otree_server_url, otree_rest_key)}
    for index, config in enumerate(configs):
        if config not in known:
            raise ConfigurationError(
                f"arms.{index}.session_config: the oTree server at {otree_server_url} has no session config "
                f"'{config}' (it has {', '.join(sorted(known)) or 'none'})"
            )


def _check_before_creating(spec: Study, otree_server_url: str, otree_rest_key: str | None,
                           submission: Submission) -> None:
    """Refuse a study whose session configs the server does not have, whose models no queue takes,
    or that has a cost cap for a model without a price."""
    check_session_configs([arm.session_config for arm in spec.arms], otree_server_url, otree_rest_key)
    for arm in spec.arms:
        for position in range(arm.bots_per_session):
            queue_for(arm.spec_of(position).model, submission.queue)
            check_priced(arm.spec_of(position).model, submission)


def create_arm_session(
    spec: Study, arm: Arm, personas: list[str | None], botex_db: str, submission: Submission, otree_server_url: str,
    otree_rest_key: str | None,
) -> tuple[str, list[BotSettings]]:
    """Create one session of ``arm`` and record its participants in ``botex_db``; return its code and
    its bots, in oTree's order, with the specs of their positions."""
    session = init_otree_session(arm.session_config, arm.participants, arm.humans, botex_db=botex_db,
                                 otree_server_url=otree_server_url, otree_rest_key=otree_rest_key)
    code = session["session_id"]
    ledger.assign_to_study(botex_db, code, spec.name, arm.name)
    bots = []
    for position, bot in enumerate(session_bots(code, botex_db, submission, budget=f"study:{spec.name}")):
        bot_spec = arm.spec_of(position)
        bots.append(replace(
            bot, model=bot_spec.model, api_base=bot_spec.api_base, full_conv_history=bot_spec.full_conv_history,
            completion_kwargs=dict(bot_spec.completion), user_prompts=dict(bot_spec.prompts) or None,
            driver=bot_spec.driver or bot.driver, persona=personas[position],
        ))
    return code, bots
