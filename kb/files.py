"""File safety shared by every writer and reader of kb's files: atomic writes, safe opening of
regular files, checksums and fsync helpers. Nothing here knows about indexes (see :mod:`kb.store`).

* :func:`atomic_write_bytes` / :func:`atomic_write_with`: write beside the target, fsync, then
  rename over it; on any error the temporary file is removed and the target is unchanged.
* :func:`open_regular`: open a regular file only (never blocks on a named pipe, never opens a
  device; the type is checked before and after opening).
* :func:`sha256_file`: a regular file's checksum, read in blocks.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import stat
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over ``path``."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    atomic_write_with(path, write)


def atomic_write_with(path: Path, write: Callable[[Path], None]) -> None:
    """Let ``write(tmp)`` create a temporary file beside ``path`` (e.g. a library writing its own
    format, such as FAISS), fsync it, then rename it over ``path``; on any error the temporary
    file is removed and ``path`` is unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """JSON lines (UTF-8, one object per line), written atomically."""
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    atomic_write_bytes(path, data.encode("utf-8"))


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class NotRegularFileError(OSError):
    """A path names a named pipe, device, socket or folder where a regular file was expected."""


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, in words ("named pipe", "character device", ...)."""
    for test, name in ((stat.S_ISREG, "regular file"), (stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "named pipe"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def check_regular(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise NotRegularFileError(errno.EINVAL, f"not a regular file ({file_kind(mode)})", str(path))


def open_regular(path: Path):
    """Open a regular file for binary reading; never blocks on a named pipe and never opens a
    device. The type is checked before opening (``stat``) and again on the open descriptor
    (``fstat``), so a file swapped for a pipe in between is refused too."""
    check_regular(path, os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        check_regular(path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def sha256_file(path: Path, tail: bytes = b"") -> str:
    """SHA-256 of a regular file's bytes followed by ``tail`` (read in blocks; pipes and
    devices are refused with :class:`NotRegularFileError`)."""
    h = hashlib.sha256()
    with open_regular(path) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    h.update(tail)
    return h.hexdigest()


def folder_problem(e: OSError) -> str:
    """Why a folder could not be created or written, in words."""
    if isinstance(e, FileExistsError):
        return "it is a file, not a folder"
    if isinstance(e, NotADirectoryError):
        return "a part of the path is a file, not a folder"
    if e.errno == errno.EROFS:
        return "the file system is read-only"
    if isinstance(e, PermissionError):
        return "permission denied"
    return e.strerror or str(e)


def write_error(e: BaseException) -> str:
    """Why a write failed, in words (a full disk, a quota, permissions, a read-only file system)."""
    if isinstance(e, OSError) and e.errno is not None:
        what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                errno.EACCES: "permission denied", errno.EROFS: "the file system is read-only"}.get(e.errno)
        return f"{what or (e.strerror or str(e))} ({errno.errorcode.get(e.errno, e.errno)})"
    return f"{type(e).__name__}: {str(e)[:200]}"
