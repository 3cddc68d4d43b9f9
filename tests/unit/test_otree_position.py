"""Where oTree has a participant, read from its wide export; participants seen done are not asked for again."""

from __future__ import annotations

import pytest

from botex_core.errors import OtreeError
from botex_core.otree import position as position_module
from botex_core.otree.position import ParticipantPosition, PositionReader, positions_in_export

WIDE = (b"participant.id_in_session,participant.code,participant._index_in_pages,participant._max_page_index,"
        b"participant._current_app_name,participant._current_page_name,game.1.player.give\n"
        b"1,a1,7,7,game,Goodbye,3\n2,b2,4,7,game,Results,5\n3,c3,8,7,game,Goodbye,\n")


def test_the_export_says_who_is_on_or_past_the_last_page() -> None:
    positions = positions_in_export(WIDE)
    assert positions["a1"] == ParticipantPosition(7, 7, "game", "Goodbye") and positions["a1"].done
    assert not positions["b2"].done and positions["c3"].done
    assert positions["b2"].describe() == "oTree has it on page 4 of 7 (game/Results)"


def test_an_export_without_page_indices_is_an_error() -> None:
    with pytest.raises(OtreeError, match="no page index"):
        positions_in_export(b"participant.code,participant.label\na1,\n")


def test_a_participant_seen_done_costs_no_second_export(monkeypatch: pytest.MonkeyPatch) -> None:
    exports: list[str | None] = []

    def export_wide(client, session_code=None) -> bytes:
        exports.append(session_code)
        return WIDE
    monkeypatch.setattr(position_module.OtreeClient, "export_wide", export_wide)
    reader = PositionReader("rest-key")
    assert reader.check_for("http://otree.test:8000/InitializeParticipant/a1", "s1", "a1")().done
    assert reader.read("http://otree.test:8000", "s1", "c3").done
    assert not reader.read("http://otree.test:8000", "s1", "b2").done
    assert exports == ["s1", "s1"]
    assert reader.read("http://otree.test:8000", "unknown", "a1").done and exports[-1] is None
    with pytest.raises(OtreeError, match="has no participant zz"):
        reader.read("http://otree.test:8000", "s1", "zz")
