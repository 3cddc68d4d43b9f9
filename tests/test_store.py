"""The botex store on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import csv
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from botex_fleet import (
    export_participant_data,
    export_response_data,
    get_bot_urls,
    read_conversations_from_botex_db,
    read_participants_from_botex_db,
    read_responses_from_botex_db,
)
from botex_core.errors import ConfigurationError
from botex_core.exports import PARTICIPANT_COLUMNS, RESPONSE_COLUMNS
from botex_core.settings import botex_db_setting
from botex_core.store import (
    Answer,
    Conversation,
    LLMExchange,
    Participant,
    database_url,
    get_engine,
    session_scope,
    utcnow,
)
from botex_core.store import engine as engine_module, ledger
from botex_core.store.ledger import NewParticipant, add_participants

SPEC_PARTICIPANT_COLUMNS = ["session_name", "session_id", "participant_id", "is_human", "url", "time_in", "time_out"]


def make_session(botex_db: str, session_id: str = "sess0001", humans: tuple[bool, ...] = (False, True, False)) -> list[str]:
    codes = [f"{session_id[-4:]}p{i:03d}" for i in range(len(humans))]
    add_participants(
        [
            NewParticipant("widgets_pair", session_id, code, human, f"http://otree/InitializeParticipant/{code}", position)
            for position, (code, human) in enumerate(zip(codes, humans), start=1)
        ],
        botex_db,
    )
    return codes


def add_answer(botex_db: str, session_id: str, participant_id: str, question_id: str, answer: str, round_: int = 1) -> None:
    with session_scope(botex_db) as session:
        session.add(
            Answer(
                session_id=session_id, participant_id=participant_id, app="widgets_pair",
                page="Questionnaire", round=round_, question_id=question_id,
                label=f"label of {question_id}", answer=answer, reason=f"because {answer}",
            )
        )


def test_tables_are_created_on_first_use_with_the_spec_columns(botex_db: str) -> None:
    inspector = inspect(get_engine(botex_db))
    assert {"participants", "conversations", "llm_exchanges", "answers"} <= set(inspector.get_table_names())
    participant_columns = [c["name"] for c in inspector.get_columns("participants")]
    assert participant_columns[:7] == SPEC_PARTICIPANT_COLUMNS
    assert {"status", "status_reason", "attempts", "lease_owner", "lease_expires_at"} <= set(participant_columns)
    assert [c["name"] for c in inspector.get_columns("conversations")] == ["id", "bot_parms", "conversation"]
    exchange_columns = {c["name"] for c in inspector.get_columns("llm_exchanges")}
    assert {"sequence", "phase", "request", "response", "prompt_tokens", "completion_tokens", "latency_seconds"} <= exchange_columns
    answer_columns = {c["name"] for c in inspector.get_columns("answers")}
    assert {"session_id", "participant_id", "app", "page", "round", "question_id", "label", "answer", "reason"} <= answer_columns


def test_new_bots_are_created_and_humans_have_no_status(botex_db: str) -> None:
    codes = make_session(botex_db)
    rows = {row["participant_id"]: row for row in read_participants_from_botex_db(botex_db=botex_db)}
    assert list(rows) == codes
    assert [rows[c]["is_human"] for c in codes] == [0, 1, 0]
    assert [rows[c]["status"] for c in codes] == ["created", None, "created"]
    assert all(rows[c]["attempts"] == 0 for c in codes)
    assert list(rows[codes[0]]) == list(PARTICIPANT_COLUMNS)


def test_bot_urls_follow_time_in_and_time_out(botex_db: str) -> None:
    started, _, fresh = make_session(botex_db)
    url = "http://otree/InitializeParticipant/{}".format
    assert get_bot_urls("sess0001", botex_db) == [url(started), url(fresh)]
    with session_scope(botex_db) as session:
        session.get(Participant, ("sess0001", started)).time_in = utcnow()
    assert get_bot_urls("sess0001", botex_db) == [url(fresh)]
    assert get_bot_urls("sess0001", botex_db, already_started=True) == [url(started), url(fresh)]
    with session_scope(botex_db) as session:
        session.get(Participant, ("sess0001", started)).time_out = utcnow()
    assert get_bot_urls("sess0001", botex_db, already_started=True) == [url(fresh)]
    assert get_bot_urls("othersession", botex_db) == []


def test_the_bots_not_ended_are_found_across_sessions_in_one_look(botex_db: str) -> None:
    from botex_core.store import BotStatus
    from botex_core.store.ledger import end, not_ended

    first, _, second = make_session(botex_db)
    (other, _, _) = make_session(botex_db, "sess0002")
    end(botex_db, "sess0001", second, BotStatus.FAILED, "gave up")
    end(botex_db, "sess0002", other, BotStatus.FINISHED)
    asked = {("sess0001", first), ("sess0001", second), ("sess0002", other), ("sess0003", "unknown")}
    assert not_ended(botex_db, asked) == {("sess0001", first)}


def test_reads_filter_by_session(botex_db: str) -> None:
    first = make_session(botex_db, "sessAAAA", (False,))
    second = make_session(botex_db, "sessBBBB", (False, False))
    with session_scope(botex_db) as session:
        for code in first + second:
            session.add(Conversation(id=code, bot_parms='{"model": "x"}', conversation="[]"))
    assert [r["participant_id"] for r in read_participants_from_botex_db("sessBBBB", botex_db)] == second
    assert len(read_participants_from_botex_db(botex_db=botex_db)) == 3
    assert [c["id"] for c in read_conversations_from_botex_db(botex_db=botex_db, session_id="sessAAAA")] == first
    only = read_conversations_from_botex_db(participant_id=second[1], botex_db=botex_db)
    assert only == [{"id": second[1], "bot_parms": '{"model": "x"}', "conversation": "[]"}]


def test_responses_come_from_answer_rows_in_order(botex_db: str) -> None:
    bot, _, other = make_session(botex_db)
    add_answer(botex_db, "sess0001", bot, "nickname", "Ann")
    add_answer(botex_db, "sess0001", bot, "age", "31")
    add_answer(botex_db, "sess0001", other, "nickname", "Bob")
    responses = read_responses_from_botex_db(botex_db=botex_db, session_id="sess0001")
    assert [(r["participant_id"], r["question_id"], r["answer"]) for r in responses] == [
        (bot, "nickname", "Ann"), (bot, "age", "31"), (other, "nickname", "Bob"),
    ]
    assert responses[0] == {
        "session_id": "sess0001", "participant_id": bot, "round": 1, "question_id": "nickname",
        "answer": "Ann", "reason": "because Ann", "app": "widgets_pair", "page": "Questionnaire",
        "question_label": "label of nickname",
    }
    assert read_responses_from_botex_db(botex_db=botex_db, session_id="nosuchsession") == []


def test_an_answer_is_never_stored_twice(botex_db: str) -> None:
    bot = make_session(botex_db)[0]
    add_answer(botex_db, "sess0001", bot, "nickname", "Ann")
    with pytest.raises(IntegrityError):
        add_answer(botex_db, "sess0001", bot, "nickname", "Ann again")
    add_answer(botex_db, "sess0001", bot, "nickname", "Ann in round 2", round_=2)
    assert [r["answer"] for r in read_responses_from_botex_db(botex_db=botex_db)] == ["Ann", "Ann in round 2"]


def test_exchanges_and_answers_need_a_participant(botex_db: str) -> None:
    with pytest.raises(IntegrityError):
        with session_scope(botex_db) as session:
            session.add(LLMExchange(session_id="nosuch", participant_id="nobody", sequence=1, phase="start", request="{}"))


def test_csv_exports_write_rows_and_header_only_when_empty(botex_db: str, tmp_path: Path) -> None:
    empty_participants, empty_responses = tmp_path / "p0.csv", tmp_path / "r0.csv"
    export_participant_data(str(empty_participants), botex_db=botex_db)
    export_response_data(str(empty_responses), botex_db=botex_db)
    assert empty_participants.read_text().strip() == ",".join(PARTICIPANT_COLUMNS)
    assert empty_responses.read_text().strip() == ",".join(RESPONSE_COLUMNS)

    bot = make_session(botex_db)[0]
    add_answer(botex_db, "sess0001", bot, "motivation", "line one,\nline two")
    export_participant_data(str(tmp_path / "p.csv"), botex_db=botex_db, session_id="sess0001")
    export_response_data(str(tmp_path / "r.csv"), botex_db=botex_db, session_id="sess0001")
    with open(tmp_path / "p.csv", newline="") as file:
        assert len(list(csv.DictReader(file))) == 3
    with open(tmp_path / "r.csv", newline="") as file:
        (row,) = list(csv.DictReader(file))
    assert row["answer"] == "line one,\nline two"
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".botex-")]


def _write_answers(botex_db: str, worker: int, count: int) -> None:
    for index in range(count):
        add_answer(botex_db, "sess0001", f"0001p00{worker % 3}", f"q{worker}_{index}", str(index))


def test_many_processes_write_at_once(botex_db: str) -> None:
    make_session(botex_db)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_answers, args=(botex_db, worker, 40)) for worker in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    assert [process.exitcode for process in workers] == [0, 0, 0, 0]
    assert len(read_responses_from_botex_db(botex_db=botex_db)) == 160


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_db: str) -> None:
    with get_engine(sqlite_db).connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_database_setting_accepts_paths_urls_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOTEX_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    assert database_url(botex_db_setting(None)) == f"sqlite:///{tmp_path}/botex.sqlite3"
    assert database_url("data/b.db") == f"sqlite:///{tmp_path}/data/b.db"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("BOTEX_DB", str(tmp_path / "from_env.sqlite3"))
    assert database_url(botex_db_setting(None)) == f"sqlite:///{tmp_path}/from_env.sqlite3"
    make_session(botex_db_setting(None))
    assert (tmp_path / "from_env.sqlite3").exists()


def test_an_unusable_database_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="cannot use botex database"):
        get_engine("nosuchdialect://somewhere/db")


@pytest.mark.postgres
@pytest.mark.parametrize("botex_db", ["postgres"], indirect=True)
def test_a_transaction_its_worker_abandoned_does_not_hold_the_bot_for_long(
    botex_db: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker that lost its network mid-transaction leaves the server waiting for its next statement,
    with the bot's row locked; PostgreSQL must end that transaction so that another worker can take the bot."""
    monkeypatch.setattr(engine_module, "IDLE_IN_TRANSACTION_SECONDS", 2)
    code = make_session(botex_db, humans=(False,))[0]
    assert ledger.claim_lease(botex_db, "sess0001", code, "vanished-run", seconds=0.1)
    abandoned = Session(get_engine(botex_db))
    abandoned.begin()
    assert ledger.holds_lease(abandoned, "sess0001", code, "vanished-run")  # the row is locked from here on
    time.sleep(0.2)  # the lease lapses

    claimed: list[bool] = []
    started = time.monotonic()
    taker = threading.Thread(target=lambda: claimed.append(ledger.claim_lease(botex_db, "sess0001", code, "next-run", 10)))
    taker.start()
    taker.join(30)
    assert claimed == [True], "the next run still waits for the abandoned transaction's row lock"
    assert time.monotonic() - started < 15
    with contextlib.suppress(Exception):  # the server has closed the abandoned connection
        abandoned.close()
