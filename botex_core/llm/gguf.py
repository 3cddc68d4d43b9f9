"""Reading the context length from a GGUF model file's metadata."""

from __future__ import annotations

import struct
from typing import BinaryIO

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def gguf_context_length(path: str) -> int | None:
    """The model's trained context length (``<architecture>.context_length``), if the file has one."""
    with open(path, "rb") as file:
        if file.read(4) != b"GGUF":
            return None
        _version, _tensors, count = struct.unpack("<IQQ", file.read(20))
        metadata: dict[str, object] = {}
        for _ in range(count):
            key = _read_string(file)
            metadata[key] = _read_value(file, struct.unpack("<I", file.read(4))[0])
            architecture = metadata.get("general.architecture")
            if architecture and f"{architecture}.context_length" in metadata:
                return int(metadata[f"{architecture}.context_length"])  # type: ignore[call-overload]
    return None


def _read_string(file: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", file.read(8))
    return file.read(length).decode("utf-8", errors="replace")


def _read_value(file: BinaryIO, kind: int) -> object:
    if kind == _STRING:
        return _read_string(file)
    if kind == _ARRAY:
        item_kind, length = struct.unpack("<IQ", file.read(12))
        if item_kind in _SCALARS:
            file.seek(struct.calcsize(_SCALARS[item_kind]) * length, 1)
        else:
            for _ in range(length):
                _read_value(file, item_kind)
        return None
    fmt = _SCALARS[kind]
    return struct.unpack(fmt, file.read(struct.calcsize(fmt)))[0]
