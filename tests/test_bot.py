"""Bots on the real example server, with the stand-in LLM: every test once in real Chromium and once over HTTP."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from botex_fleet import (
    ConfigurationError,
    export_otree_data,
    init_otree_session,
    read_conversations_from_botex_db,
    read_participants_from_botex_db,
    read_responses_from_botex_db,
    run_bots_on_session,
    run_single_bot,
)
from botex_core.bot.dialogue import MAX_REPLY_TRIES
from botex_core.bot.schemas import REASON_MAX
from botex_core.otree.client import OtreeClient
from botex_core.otree.position import positions_in_export
from botex_core.store import LLMExchange, get_engine, session_scope
from tests.conftest import REPO, RunningOtree
from tests.support.fake_llm import FakeLLM
from tests.support.otree_admin import OtreeAdmin
from tests.support.processes import browser_processes

pytestmark = pytest.mark.usefixtures("quick_bots")

QUESTIONNAIRE = ["nickname", "motivation", "age", "expected_share", "likes_puzzles",
                 "favourite_colour", "risk_attitude", "trust", "consent"]


@pytest.fixture(params=["browser", "http"], autouse=True)
def driver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How the bots of the test see their pages (also in the processes the test starts)."""
    monkeypatch.setenv("BOTEX_DRIVER", request.param)
    return request.param


def run_session(config: str, size: int, db: str, fake_llm: FakeLLM, **kwargs) -> str:
    session = init_otree_session(config, size, botex_db=db)
    run_bots_on_session(
        session["session_id"], botex_db=db, model="openai/stand-in", api_key="sk-test",
        api_base=fake_llm.api_base, **kwargs,
    )
    return session["session_id"]


def statuses(db: str, session_id: str) -> list[str]:
    return [p["status"] for p in read_participants_from_botex_db(session_id, db)]


def exchanges(db: str, session_id: str) -> list[LLMExchange]:
    with session_scope(db) as session:
        return list(session.scalars(select(LLMExchange).where(LLMExchange.session_id == session_id).order_by(LLMExchange.id)))


def user_messages(fake_llm: FakeLLM) -> list[str]:
    return [m["content"] for r in fake_llm.requests for m in r["messages"] if m["role"] == "user"]


def test_bots_play_every_widget_and_the_button_page(
    otree_server: RunningOtree, botex_db: str, fake_llm: FakeLLM, tmp_path: Path, driver: str
) -> None:
    before = browser_processes()
    session_id = run_session("widgets_pair", 2, botex_db, fake_llm)
    assert statuses(botex_db, session_id) == ["finished", "finished"]
    assert {row["driver"] for row in read_participants_from_botex_db(session_id, botex_db)} == {driver}
    responses = read_responses_from_botex_db(botex_db, session_id)
    for participant in {r["participant_id"] for r in responses}:
        mine = [r for r in responses if r["participant_id"] == participant]
        assert [r["question_id"] for r in mine] == QUESTIONNAIRE + ["cooperate"]
        assert all(r["reason"] and r["answer"] != "" for r in mine)
        assert {r["page"] for r in mine} == {"Questionnaire", "Decision"}
    by_question = {r["question_id"]: r for r in responses}
    assert by_question["risk_attitude"]["answer"] == "I am neutral"  # the label, as the LLM chose it
    assert by_question["risk_attitude"]["question_label"] == "How do you usually deal with financial risks?"

    wide = tmp_path / "wide.csv"
    export_otree_data(str(wide), session_id=session_id)
    header, *rows = [line.split(",") for line in wide.read_text().splitlines()]
    column = {name: index for index, name in enumerate(header)}
    for row in rows:
        assert row[column["widgets_pair.1.player.risk_attitude"]] == "2"  # the form value oTree stored
        assert row[column["widgets_pair.1.player.age"]] == "58"
        assert row[column["participant._current_page_name"]] == "Goodbye"

    conversations = read_conversations_from_botex_db(botex_db=botex_db, session_id=session_id)
    assert len(conversations) == 2
    parms = json.loads(conversations[0]["bot_parms"])
    assert parms["model"] == "openai/stand-in" and parms["driver"] == driver and "api_key" not in parms
    recorded = exchanges(botex_db, session_id)
    assert all(e.prompt_tokens and e.completion_tokens and e.latency_seconds is not None for e in recorded)
    assert browser_processes() == before


def test_several_rounds_are_numbered(otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM) -> None:
    session_id = run_session("guess_two_thirds", 3, sqlite_db, fake_llm)
    assert statuses(sqlite_db, session_id) == ["finished"] * 3
    guesses = [r for r in read_responses_from_botex_db(sqlite_db, session_id) if r["question_id"] == "guess"]
    assert sorted(r["round"] for r in guesses) == [1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_otree_validation_errors_go_back_to_the_llm(otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM) -> None:
    fake_llm.inject("long_text", pages_only=True)  # 40 characters, oTree allows 30
    session_id = run_session("widgets_pair", 2, sqlite_db, fake_llm)
    assert statuses(sqlite_db, session_id) == ["finished", "finished"]
    rejections = [m for m in user_messages(fake_llm) if "did not accept your answers" in m]
    assert len(rejections) == 1
    assert "nickname: Field cannot be longer than 30 characters" in rejections[0]
    retry_schemas = [r["response_format"]["json_schema"]["schema"] for r in fake_llm.requests
                     if "did not accept your answers" in r["messages"][-1]["content"]]
    assert retry_schemas[0]["$defs"]["Answer_nickname"]["properties"]["answer"]["maxLength"] == 30
    nicknames = [r["answer"] for r in read_responses_from_botex_db(sqlite_db, session_id) if r["question_id"] == "nickname"]
    assert all(len(n) <= 30 for n in nicknames)


@pytest.mark.parametrize(
    ("fault", "times", "evidence"),
    [
        ("429", 3, "RateLimitError"),
        ("500", 2, "InternalServerError"),
        ("malformed", 1, "not valid JSON"),
        ("out_of_range", 1, "greater than or equal"),
        ("too_long", 1, "too long"),
        ("confused", 1, "You said that you are confused"),
    ],
)
def test_llm_faults_are_retried_and_recorded(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM, fault: str, times: int, evidence: str
) -> None:
    fake_llm.inject(fault, times=times, pages_only=True)
    session_id = run_session("widgets_pair", 2, sqlite_db, fake_llm)
    assert statuses(sqlite_db, session_id) == ["finished", "finished"]
    recorded = exchanges(sqlite_db, session_id)
    seen = " ".join([e.error or "" for e in recorded] + user_messages(fake_llm))
    assert evidence in seen
    if fault in ("429", "500"):
        assert sum(1 for e in recorded if e.error) == times


def test_numbers_out_of_range_on_every_try_are_set_to_their_bounds(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM
) -> None:
    # Enough for both bots to use up their tries on the questionnaire; reasons come at their length cap.
    fake_llm.inject("out_of_range", times=2 * MAX_REPLY_TRIES, pages_only=True)
    session_id = run_session("widgets_pair", 2, sqlite_db, fake_llm)
    assert statuses(sqlite_db, session_id) == ["finished", "finished"]
    shares = [r for r in read_responses_from_botex_db(sqlite_db, session_id) if r["question_id"] == "expected_share"]
    clamped = [r for r in shares if r["reason"].endswith("to 0.0, the nearest allowed value]")]
    assert clamped, shares
    assert all(float(r["answer"]) == 0.0 and len(r["reason"]) <= REASON_MAX for r in clamped)
    # Each retry asks the page again with the error, without showing the faulty reply.
    retries = [r for r in fake_llm.requests if "greater than or equal" in r["messages"][-1]["content"]]
    assert len(retries) >= MAX_REPLY_TRIES - 1
    assert all([m["role"] for m in r["messages"]] == ["system", "user"] for r in retries)


@pytest.mark.parametrize("full_conv_history", [False, True])
def test_a_cut_off_reply_is_not_sent_back(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM, full_conv_history: bool
) -> None:
    fake_llm.inject("too_long", times=2, pages_only=True)
    session_id = run_session("widgets_pair", 2, sqlite_db, fake_llm, full_conv_history=full_conv_history)
    assert statuses(sqlite_db, session_id) == ["finished", "finished"]
    retries = [r for r in fake_llm.requests if "cut off" in r["messages"][-1]["content"]]
    assert len(retries) == 2
    asked = [r["messages"][-1]["content"] for r in fake_llm.requests]
    for retry in retries:
        note, prompt = retry["messages"][-1]["content"].split("\n\n", 1)
        assert "cut off" in note and prompt in asked  # the page's prompt is asked again
    sent_back = [m["content"] for r in fake_llm.requests for m in r["messages"] if m["role"] == "assistant"]
    assert all(json.loads(content) for content in sent_back)  # a cut-off half is never valid JSON


def test_timeouts_are_retried(otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM) -> None:
    fake_llm.inject("timeout", seconds=4, pages_only=True)
    session_id = run_session("widgets_pair", 2, sqlite_db, fake_llm, timeout=1)
    assert statuses(sqlite_db, session_id) == ["finished", "finished"]
    assert any("Timeout" in (e.error or "") for e in exchanges(sqlite_db, session_id))


@pytest.mark.parametrize(("fault", "evidence"), [("auth", "AuthenticationError"), ("unknown_model", "NotFoundError")])
def test_a_hopeless_llm_error_fails_at_once_and_the_partner_is_abandoned(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch, fault: str, evidence: str
) -> None:
    monkeypatch.setenv("BOTEX_WAIT_TIMEOUT", "5")
    fake_llm.inject(fault, pages_only=True)
    before = browser_processes()
    session_id = run_session("widgets_pair", 2, sqlite_db, fake_llm)
    rows = read_participants_from_botex_db(session_id, sqlite_db)
    assert sorted(r["status"] for r in rows) == ["abandoned", "failed"]
    failed = next(r for r in rows if r["status"] == "failed")
    assert evidence in failed["status_reason"] and "cannot succeed" in failed["status_reason"]
    abandoned = next(r for r in rows if r["status"] == "abandoned")
    assert "wait page PairWaitPage" in abandoned["status_reason"]
    assert sum(1 for e in exchanges(sqlite_db, session_id) if e.error) == 1  # no retry of what cannot succeed
    assert browser_processes() == before


def test_endpoint_that_only_takes_json_object(otree_server: RunningOtree, sqlite_db: str) -> None:
    server = FakeLLM(json_object_only=True).start()
    try:
        session_id = run_session("widgets_pair", 2, sqlite_db, server)
    finally:
        server.stop()
    assert statuses(sqlite_db, session_id) == ["finished", "finished"]
    formats = [r["response_format"]["type"] for r in server.requests]
    assert 1 <= formats.count("json_schema") <= 2  # at most each bot's first, concurrent request
    # The other bot's first request may reach the server after the first bot's retry, never later.
    after_the_switch = formats[formats.index("json_object"):]
    assert after_the_switch.count("json_schema") <= 1 and after_the_switch[2:].count("json_schema") == 0


def test_full_conversation_history(otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM) -> None:
    session_id = run_session("widgets_pair", 2, sqlite_db, fake_llm, full_conv_history=True)
    assert statuses(sqlite_db, session_id) == ["finished", "finished"]
    longest = max(fake_llm.requests, key=lambda r: len(r["messages"]))
    contents = " ".join(m["content"] for m in longest["messages"])
    assert "Thank you for taking part" in contents and "Click one of the two buttons" in contents
    assert longest["messages"][0]["content"].startswith("You take part in an online study") and "Over this conversation" in longest["messages"][0]["content"]
    short = min(fake_llm.requests, key=lambda r: len(r["messages"]))
    assert len(short["messages"]) == 2


def test_user_prompts_override_and_unknown_keys_stop_everything(otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM) -> None:
    session = init_otree_session("widgets_pair", 2, botex_db=sqlite_db)
    with pytest.raises(ConfigurationError, match="unknown prompt key.*no_such_key"):
        run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="openai/x",
                            api_base=fake_llm.api_base, user_prompts={"no_such_key": "x"})
    rows = read_participants_from_botex_db(session["session_id"], sqlite_db)
    assert [row["status"] for row in rows] == ["created", "created"]
    assert all(row["status_reason"].startswith("not started: unknown prompt key") for row in rows)
    assert fake_llm.requests == []
    run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="openai/x", api_key="k",
                        api_base=fake_llm.api_base, user_prompts={"start": "Custom start prompt. Reply in JSON."})
    assert "Custom start prompt. Reply in JSON." in user_messages(fake_llm)


def test_the_api_key_is_never_stored_or_logged(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "sk-very-secret-value-123"
    caplog.set_level(logging.DEBUG)
    fake_llm.inject("429", pages_only=True)
    session = init_otree_session("widgets_pair", 2, botex_db=sqlite_db)
    run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="openai/stand-in",
                        api_key=secret, api_base=fake_llm.api_base)
    assert statuses(sqlite_db, session["session_id"]) == ["finished", "finished"]
    with get_engine(sqlite_db).connect() as connection:
        dump = "\n".join(connection.connection.driver_connection.iterdump())
    assert "stand-in" in dump and secret not in dump
    assert secret not in caplog.text


def test_a_lone_bot_is_abandoned_on_the_wait_page(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTEX_WAIT_TIMEOUT", "3")
    session = init_otree_session("widgets_pair", 2, botex_db=sqlite_db)
    run_single_bot(session["bot_urls"][0], "widgets_pair", session["session_id"], botex_db=sqlite_db,
                   model="openai/stand-in", api_key="k", api_base=fake_llm.api_base)
    rows = {r["participant_id"]: r for r in read_participants_from_botex_db(session["session_id"], sqlite_db)}
    lone = rows[session["participant_code"][0]]
    assert lone["status"] == "abandoned" and "waited more than 3 s" in lone["status_reason"]
    assert lone["time_in"] is not None and lone["time_out"] is None
    assert [r["question_id"] for r in read_responses_from_botex_db(sqlite_db, session["session_id"])] == QUESTIONNAIRE


def test_run_single_bot_without_wait_returns_a_thread(otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM) -> None:
    session = init_otree_session("widgets_pair", 2, botex_db=sqlite_db)
    threads = [
        run_single_bot(url, "widgets_pair", session["session_id"], botex_db=sqlite_db, model="openai/stand-in",
                       api_key="k", api_base=fake_llm.api_base, wait=False)
        for url in session["bot_urls"]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert statuses(sqlite_db, session["session_id"]) == ["finished", "finished"]


RUN_IN_CHILD = """
import sys
from botex_fleet import run_bots_on_session
run_bots_on_session(sys.argv[1], botex_db=sys.argv[2], model="openai/stand-in", api_key="k", api_base=sys.argv[3])
"""


def test_a_killed_bot_resumes_where_it_stood(otree_server: RunningOtree, botex_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    slow_llm = FakeLLM(latency=0.4).start()
    session = init_otree_session("guess_two_thirds", 3, botex_db=botex_db)
    child = subprocess.Popen(
        [sys.executable, "-c", RUN_IN_CHILD, session["session_id"], botex_db, slow_llm.api_base],
        cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            guesses = [r for r in read_responses_from_botex_db(botex_db, session["session_id"]) if r["question_id"] == "guess"]
            if len(guesses) >= 4:  # the bots are in round 2
                break
            time.sleep(0.2)
        else:
            pytest.fail("the bots did not reach round 2")
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the bots, their browsers and drivers
        child.wait()
    assert set(statuses(botex_db, session["session_id"])) == {"running"}

    try:
        run_bots_on_session(session["session_id"], botex_db=botex_db, model="openai/stand-in", api_key="k",
                            api_base=slow_llm.api_base, already_started=True)
    finally:
        slow_llm.stop()
    rows = read_participants_from_botex_db(session["session_id"], botex_db)
    assert [r["status"] for r in rows] == ["finished"] * 3
    assert all(r["attempts"] == 2 for r in rows)
    guesses = [r for r in read_responses_from_botex_db(botex_db, session["session_id"]) if r["question_id"] == "guess"]
    assert sorted((r["participant_id"], r["round"]) for r in guesses) == sorted(
        (code, round_) for code in session["participant_code"] for round_ in (1, 2, 3)
    )
    starts = [e for e in exchanges(botex_db, session["session_id"]) if e.phase == "start"]
    assert len(starts) == 3  # the start prompt once per bot, not again on resume
    with get_engine(botex_db).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM answers")).scalar() == 9


def test_a_database_with_a_password_is_used_in_process_and_no_stray_file_is_made(
    otree_server: RunningOtree, postgres_cluster, fake_llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOTEX_DB", raising=False)
    database = postgres_cluster.create_database("pw_" + os.urandom(4).hex()).replace("postgres@", "postgres:a-password@")
    session = init_otree_session("widgets_pair", 2, botex_db=database)
    started = time.monotonic()
    run_bots_on_session(session["session_id"], botex_db=database, model="openai/stand-in", api_key="k",
                        api_base=fake_llm.api_base)
    assert time.monotonic() - started > 1, "the call must wait for its bots"
    assert statuses(database, session["session_id"]) == ["finished", "finished"]
    assert list(tmp_path.iterdir()) == []


def otree_progress(otree_server: RunningOtree, session_id: str) -> dict[str, tuple[int, int, str]]:
    """Each participant's page index, last page index and current page, from oTree's own export."""
    wide = OtreeClient(otree_server.url, otree_server.rest_key).export_wide(session_id)
    return {code: (p.index, p.last, p.page) for code, p in positions_in_export(wide).items()}


def test_finished_only_when_otree_has_the_bot_on_its_last_page(
    otree_server: RunningOtree, sqlite_db: str, fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Start button that is not oTree's Next button is a way on; a results page without one is watched
    until the experimenter moves everyone on, and a bot nobody moves on ends failed with the page."""
    monkeypatch.setenv("BOTEX_WAIT_TIMEOUT", "4")
    stuck = run_session("experimenter_paced", 1, sqlite_db, fake_llm)
    [row] = read_participants_from_botex_db(stuck, sqlite_db)
    assert row["status"] == "failed" and row["time_out"] is None
    assert row["status_reason"].startswith(
        "stuck on Results: the page has no way on, oTree has it on page 3 of 4 (experimenter_paced/Results)")
    assert list(otree_progress(otree_server, stuck).values()) == [(3, 4, "Results")]

    monkeypatch.setenv("BOTEX_WAIT_TIMEOUT", "60")
    session = init_otree_session("experimenter_paced", 1, botex_db=sqlite_db)
    [runner] = run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="openai/stand-in",
                                   api_key="k", api_base=fake_llm.api_base, wait=False)
    deadline = time.monotonic() + 60
    while list(otree_progress(otree_server, session["session_id"]).values()) != [(3, 4, "Results")]:
        assert time.monotonic() < deadline, "the bot did not reach the results"
        time.sleep(0.5)
    time.sleep(1.5)
    assert statuses(sqlite_db, session["session_id"]) == ["running"]
    OtreeAdmin(otree_server.url, otree_server.admin_password).advance_slowest(session["session_id"])
    runner.join(60)
    assert statuses(sqlite_db, session["session_id"]) == ["finished"]
    assert list(otree_progress(otree_server, session["session_id"]).values()) == [(4, 4, "Goodbye")]
    assert [r["answer"] for r in read_responses_from_botex_db(sqlite_db, session["session_id"])] == ["5"]
