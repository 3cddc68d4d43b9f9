"""The pretest report of an experiment with troubles, opened in headless Chromium: the pages to look at
are exactly the troubled ones, and its counts are the store's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from botex_core.store import Rejection, session_scope
from botex_fleet import init_otree_session, pretest_report, read_participants_from_botex_db, run_bots_on_session
from tests.conftest import RunningOtree
from tests.support.fake_llm import FakeLLM
from tests.support.headless import headless_chromium

pytestmark = pytest.mark.usefixtures("quick_bots")


def shown(path: Path) -> dict[str, Any]:
    """What headless Chromium shows of the report: console messages, images, the flagged pages, and each
    page section's numbers."""
    with headless_chromium() as browser:
        browser.get(path.as_uri())
        return browser.execute_script("""return {
            images: [...document.images].map(i => ({src: i.src.slice(0, 26), width: i.naturalWidth})),
            outside: [...document.querySelectorAll('script, link, iframe, [src], [href]')]
                .filter(e => !(e.getAttribute('href') || '').startsWith('#') && !(e.getAttribute('src') || '').startsWith('data:'))
                .length,
            flagged: [...document.querySelectorAll('[data-list=flagged] li')].map(li => [li.dataset.page, li.textContent]),
            pages: Object.fromEntries([...document.querySelectorAll('section[data-page]')].map(s => [s.dataset.page,
                Object.fromEntries([...s.querySelectorAll('td[data-column]')].map(c => [c.dataset.column, c.textContent]))])),
        }""") | {"console": browser.get_log("browser")}


def test_the_pretest_report_flags_exactly_the_troubled_pages(
    otree_server: RunningOtree, sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOTEX_WAIT_TIMEOUT", "4")
    llm = FakeLLM(confused_by="you offer what you keep").start()
    try:
        session = init_otree_session("pretest_trouble", 2, botex_db=sqlite_db)
        run_bots_on_session(session["session_id"], botex_db=sqlite_db, model="gpt-4o-mini", api_key="k",
                            api_base=llm.api_base)
    finally:
        llm.stop()
    rows = read_participants_from_botex_db(session["session_id"], sqlite_db)
    assert {row["status"] for row in rows} == {"failed"}  # stuck on the results: a dead end

    report = pretest_report(tmp_path / "pretest.html", [session["session_id"]], botex_db=sqlite_db)
    page = shown(report)
    assert page["console"] == [] and page["outside"] == 0
    assert page["images"] and all(image["src"].startswith("data:image/svg+xml") and image["width"] > 100
                                  for image in page["images"])
    flagged = dict(page["flagged"])
    assert list(flagged) == ["2", "3", "4"], page["flagged"]
    assert "pretest_trouble/Rules" in flagged["2"] and "2 bot(s) stayed confused" in flagged["2"]
    assert "pretest_trouble/Offer" in flagged["3"] and "oTree rejected answers 2 time(s)" in flagged["3"]
    assert "pretest_trouble/Results" in flagged["4"] and "a dead end: 2 bot(s)" in flagged["4"]
    with session_scope(sqlite_db) as store:
        rejections = store.scalar(select(func.count()).select_from(Rejection))
    assert page["pages"]["3"]["rejections"] == str(rejections) == "2"
    assert page["pages"]["3"]["most_tries"] == "2"
    assert {number: cells["bots"] for number, cells in page["pages"].items()} == {
        "1": "2", "2": "2", "3": "2", "4": "2"}
    assert page["pages"]["2"]["confused"] == "2" and page["pages"]["1"]["confused"] == "0"
