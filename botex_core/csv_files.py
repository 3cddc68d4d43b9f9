"""Writing output files whole or not at all, and one line of error when they cannot be written."""

from __future__ import annotations

import csv
import functools
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from botex_core.errors import OutputError


def write_csv(path: str, fieldnames: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Write ``rows`` under a header of ``fieldnames``; the file appears only when complete.

    With no rows the file holds the header alone.
    """
    with _replaced_when_written(path) as handle:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=list(fieldnames), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)


def write_file_atomically(path: str, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file in the same folder."""
    with _replaced_when_written(path) as handle:
        with os.fdopen(handle, "wb") as file:
            file.write(content)


@contextmanager
def _replaced_when_written(path: str) -> Iterator[int]:
    """A handle to a temporary file in ``path``'s folder that replaces ``path`` once written, with the
    permissions a new file gets from the umask (not the owner-only ones of temporary files)."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=".botex-", dir=os.path.dirname(os.path.abspath(path)))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        yield handle
        os.replace(temporary, path)
    except BaseException as exc:
        os.unlink(temporary)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def make_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents) unless it exists.

    Raises:
        OutputError: It cannot be created.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {folder}: {exc.strerror or exc}") from None


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
