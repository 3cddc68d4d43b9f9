"""Study files: read from TOML, every mistake one line that names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from botex_core.errors import ConfigurationError
from botex_core.study.spec import read_study

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "studies" / "guess_models.toml"

GOOD = """
name = "pilot"

[[arms]]
name = "mixed"
session_config = "guess_two_thirds"
sessions = 3
participants = 3

[[arms.positions]]
model = "gpt-4o-mini"
completion = {{ temperature = 0.5 }}

[[arms.positions]]
model = "llamacpp"
persona = {{ csv = "people.csv", template = "You are {{age}} years old." }}

[[arms.positions]]
model = "gpt-4o-mini"
{extra}
"""


def study_file(tmp_path: Path, extra: str = "", rows: int = 3, text: str | None = None) -> Path:
    (tmp_path / "people.csv").write_text("age\n" + "".join(f"{20 + i}\n" for i in range(rows)))
    path = tmp_path / "study.toml"
    path.write_text(text if text is not None else GOOD.format(extra=extra))
    return path


def test_the_example_study_reads_with_its_arms_and_models() -> None:
    study = read_study(EXAMPLE)
    assert [arm.name for arm in study.arms] == ["one-model", "three-models"]
    assert study.arms[0].bots_by_model() == {"gpt-4o-mini": 6}
    assert study.arms[1].bots_by_model() == {"gpt-4o-mini": 2, "anthropic/claude-3-5-haiku-20241022": 2, "llamacpp": 2}


def test_a_good_file_gives_each_position_its_spec(tmp_path: Path) -> None:
    study = read_study(study_file(tmp_path))
    arm = study.arms[0]
    assert arm.bots_per_session == 3 and arm.spec_of(1).model == "llamacpp"
    assert arm.spec_of(0).completion == {"temperature": 0.5}
    assert arm.bots_by_model() == {"gpt-4o-mini": 6, "llamacpp": 3}


@pytest.mark.parametrize(
    ("extra", "rows", "error"),
    [
        ("colour = 'red'", 3, "arms.0.positions.2.colour: Extra inputs are not permitted"),
        ("api_key = 'sk-live'", 3, "arms.0.positions.2.api_key: keys do not belong in a study file"),
        ("prompts = { greeting = 'Hi' }", 3, "arms.0.positions.2: unknown prompt key(s) greeting"),
        ("driver = 'telnet'", 3, "arms.0.positions.2.driver: Input should be 'auto', 'http' or 'browser'"),
        ("", 2, "arms.0.positions.1.persona: people.csv has 2 rows for 3 bots"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(tmp_path: Path, extra: str, rows: int, error: str) -> None:
    path = study_file(tmp_path, extra, rows)
    with pytest.raises(ConfigurationError) as raised:
        read_study(path)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{path}: {error}"), message


@pytest.mark.parametrize(
    ("arm", "error"),
    [
        ("participants = 2\nhumans = 2\n[arms.bots]\n", "arms.0: 2 humans leave no bot among 2 participants"),
        ("participants = 2\n", "arms.0: give either [arms.bots] (one spec for all bots) or [[arms.positions]]"),
        ("participants = 3\n[[arms.positions]]\n", "arms.0: 1 positions for 3 bots per session"),
    ],
)
def test_arms_whose_bots_do_not_fit_their_sessions_are_refused(tmp_path: Path, arm: str, error: str) -> None:
    path = study_file(tmp_path, text=f'name = "s"\n[[arms]]\nname = "a"\nsession_config = "c"\n{arm}')
    with pytest.raises(ConfigurationError) as raised:
        read_study(path)
    assert str(raised.value).startswith(f"{path}: {error}"), str(raised.value)


def test_a_persona_template_needs_its_columns_in_the_csv(tmp_path: Path) -> None:
    path = study_file(tmp_path)
    (tmp_path / "people.csv").write_text("years\n20\n30\n40\n")
    with pytest.raises(ConfigurationError, match=r"arms\.0\.positions\.1\.persona: people\.csv has no column age$"):
        read_study(path)


def test_a_file_that_is_not_toml_or_not_there_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a TOML file"):
        read_study(study_file(tmp_path, text="name = \n"))
    with pytest.raises(ConfigurationError, match="cannot read the study file"):
        read_study(tmp_path / "missing.toml")
