"""Files the exports write: whole or not at all, readable as any new file of the user."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from botex_core.csv_files import write_csv, write_file_atomically


def test_written_files_get_the_permissions_of_the_umask_and_failed_writes_leave_nothing(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    write_csv(str(tmp_path / "rows.csv"), ["a"], [{"a": 1}])
    write_file_atomically(str(tmp_path / "report.html"), b"<html></html>")
    for name in ("rows.csv", "report.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask
    assert (tmp_path / "rows.csv").read_text().splitlines() == ["a", "1"]

    def broken_rows():
        yield {"a": 2}
        raise RuntimeError("the store went away")

    with pytest.raises(RuntimeError):
        write_csv(str(tmp_path / "rows.csv"), ["a"], broken_rows())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.html", "rows.csv"]
    assert (tmp_path / "rows.csv").read_text().splitlines() == ["a", "1"]
