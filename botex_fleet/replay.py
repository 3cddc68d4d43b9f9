"""Replaying a study: its sessions played again on new oTree sessions, each bot with the settings of
its original and answered from the original's stored LLM exchanges, at no LLM cost."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from botex_core.errors import ConfigurationError
from botex_core.exports import read_responses_from_botex_db
from botex_core.llm.replay_cache import ReplayCounts, replay_cache, replay_counts, serving
from botex_core.otree import init_otree_session
from botex_core.otree.client import OtreeClient
from botex_core.settings import BotexSettings, OtreeSettings, resolve
from botex_core.store import ledger, utcnow
from botex_core.study.records import StoredStudy, free_study_name, load_study, save_study, stored_sessions
from botex_fleet.studies import StudyRun, botex_fleet_version, check_session_configs
from botex_worker.dispatch import run_in_process, session_bots
from botex_worker.submission import Submission

# The settings a replayed bot takes over from its original.
REPLAYED_SETTINGS = ("model", "api_base", "throttle", "full_conv_history", "user_prompts", "completion_kwargs",
                     "wait_timeout", "driver", "persona")


@dataclass
class StudyReplay(StudyRun):
    """A replay's sessions and bots, which original study it replays, and which original bot each bot plays."""

    original: str = ""
    original_sessions: list[str] = field(default_factory=list)
    originals: dict[str, str] = field(default_factory=dict)
    stored_exchanges: int = 0

    def counts(self, botex_db: str) -> ReplayCounts:
        """The replay's requests answered from stored exchanges (hits) and those that were not (misses)."""
        return replay_counts(botex_db, self.originals)

    def equal_answers(self, botex_db: str) -> int:
        """How many bots gave exactly the answers their original gave."""
        answers: dict[str, list[tuple[Any, ...]]] = {}
        for session in [code for codes in self.sessions.values() for code in codes] + self.original_sessions:
            for row in read_responses_from_botex_db(botex_db, session):
                answers.setdefault(row["participant_id"], []).append((row["round"], row["question_id"], row["answer"]))
        return sum(sorted(answers.get(bot, [])) == sorted(answers.get(original, []))
                   for bot, original in self.originals.items())


def replay_study(
    name: str,
    botex_db: str | None = None,
    otree_server_url: str | None = None,
    otree_rest_key: str | None = None,
    strict: bool = False,
    replay_name: str | None = None,
    on_session: Callable[[str, str], None] | None = None,
    on_created: Callable[[StudyRun], None] | None = None,
) -> StudyReplay:
    """Play study ``name`` again, in this process: a new session for each of its sessions, each bot with
    its original's model, parameters, prompts and persona, and each LLM request answered from the
    exchange the original stored for the same request (LiteLLM's cache key: model, messages, schema,
    parameters). A request with no stored match goes to the model, or, with ``strict``, fails its bot.
    The replay is a study of its own, ``replay_name`` (default ``<name>-replay``, numbered when taken).

    Raises:
        ConfigurationError: No such study, nothing stored to replay, a broker is set, or the oTree
            server lacks a session config of the study.
    """
    submission = Submission.resolved()
    if not submission.embedded:
        raise ConfigurationError("a replay runs in this process with the stored exchanges in memory: "
                                 "unset BOTEX_BROKER_URL")
    local = resolve(BotexSettings, db=botex_db)
    otree = resolve(OtreeSettings, server_url=otree_server_url, rest_key=otree_rest_key)
    original = load_study(local.db, name)
    layout = stored_sessions(local.db, name)
    cache, stored = replay_cache(local.db, [code for sessions in layout.values() for s in sessions for code in s.bots])
    if not stored:
        raise ConfigurationError(f"study '{name}' has no stored LLM exchange to replay")
    check_session_configs([s.session_config for sessions in layout.values() for s in sessions],
                          otree.server_url, otree.rest_key)
    replay = StudyReplay(replay_name or free_study_name(local.db, f"{name}-replay"), original=name,
                         original_sessions=[s.code for sessions in layout.values() for s in sessions],
                         stored_exchanges=stored)
    save_study(local.db, StoredStudy(
        replay.name, original.source, botex_fleet_version(), original.prompts_sha256, otree.server_url,
        OtreeClient(otree.server_url, otree.rest_key).version(), utcnow(), replay_of=name,
    ))
    for arm, sessions in layout.items():
        replay.sessions[arm] = []
        for stored_session in sessions:
            created = init_otree_session(stored_session.session_config, len(stored_session.is_human),
                                         is_human=stored_session.is_human, botex_db=local.db,
                                         otree_server_url=otree.server_url, otree_rest_key=otree.rest_key)
            code = created["session_id"]
            ledger.assign_to_study(local.db, code, replay.name, arm)
            replay.sessions[arm].append(code)
            for bot, (original_bot, settings) in zip(session_bots(code, local.db, submission), stored_session.bots.items()):
                taken = {key: settings[key] for key in REPLAYED_SETTINGS if key in settings}
                replay.bots.append(replace(bot, **taken, replay_of=original_bot, strict_replay=strict))
                replay.originals[bot.participant_id] = original_bot
            if on_session:
                on_session(arm, code)
    if on_created:
        on_created(replay)
    with serving(cache, replay.originals.values()):
        run_in_process(replay.bots, local.db, submission)
    return replay
