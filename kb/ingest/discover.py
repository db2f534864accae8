"""Finding the files to index and reading their bytes safely.

:func:`discover_files` lists the supported files (``.pdf``, ``.txt``, ``.md``) under the given
files and folders: regular files only (named pipes, devices and sockets are skipped without
being opened, and so is anything under /dev, /proc or /sys), symlinks followed only inside the
given folders unless asked. Sizes are checked before reading (:data:`MAX_FILE_BYTES`, sidecars
:data:`MAX_SIDECAR_BYTES`). :func:`file_sha256` is a document's content hash: its bytes and its
sidecar ``NAME.meta.json`` (parsed by :mod:`kb.ingest.meta`).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from .. import files
from ..errors import IngestError
from ..records import Failure

TEXT_SUFFIXES = (".txt", ".md")
SUFFIXES = (".pdf", *TEXT_SUFFIXES)
SIDECAR_SUFFIX = ".meta.json"
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_SIDECAR_BYTES = 64 * 1024

SYSTEM_DIRS = ("/dev", "/proc", "/sys")  # never read, even through a symlink the user allows
OUTSIDE = "symlink to outside the given folders; use --follow-symlinks to index it"


def discover(paths: list[Path], follow_symlinks: bool = False) -> list[Path]:
    """Supported files under the given files and folders (see :func:`discover_files`); a path
    that was skipped raises IngestError."""
    files, skipped = discover_files(paths, follow_symlinks)
    if skipped:
        raise IngestError(f"{skipped[0].path}: {skipped[0].reason}")
    return files


def discover_files(paths: list[Path], follow_symlinks: bool = False) -> tuple[list[Path], list[Failure]]:
    """Supported files under the given files and folders, recursively, sorted, hidden skipped;
    and the entries skipped, each with a one-line reason.

    Only regular files are returned: named pipes, devices and sockets are skipped (reading
    them would hang or never end), and so is anything under /dev, /proc or /sys. A symlink
    (to a file or a folder) found in a folder is followed only when its target lies inside one
    of the given folders, or with ``follow_symlinks``; a file named on the command line is
    taken as asked for. A path that does not exist raises IngestError before anything else.
    """
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        raise IngestError(f"{missing[0]}: no such file or folder")
    roots = [os.path.realpath(p) for p in paths if os.path.isdir(p)]
    found: set[Path] = set()
    skipped: list[Failure] = []
    seen_dirs: set[str] = set()
    for p in map(Path, paths):
        if p.is_dir():
            _walk(p, roots, follow_symlinks, found, skipped, seen_dirs)
        else:
            problem = entry_problem(p, roots, follow=True)
            if problem:
                skipped.append(Failure(str(p), problem))
            else:
                found.add(p)
    return sorted(found, key=str), sorted(skipped, key=lambda f: f.path)


def _walk(top: Path, roots: list[str], follow: bool, found: set[Path], skipped: list[Failure],
          seen_dirs: set[str]) -> None:
    for root, dirs, names in os.walk(top, followlinks=follow):
        real = os.path.realpath(root)
        if real in seen_dirs:  # a symlink loop, or a folder reached twice
            dirs[:] = []
            continue
        seen_dirs.add(real)
        keep = []
        for d in sorted(x for x in dirs if not x.startswith(".")):
            dp = Path(root) / d
            if dp.is_symlink():
                problem = entry_problem(dp, roots, follow)
                if problem:
                    skipped.append(Failure(str(dp), problem))
                    continue
            keep.append(d)
        dirs[:] = keep
        for f in names:
            fp = Path(root) / f
            if f.startswith(".") or not _supported(fp):
                continue
            problem = entry_problem(fp, roots, follow)
            if problem:
                skipped.append(Failure(str(fp), problem))
            else:
                found.add(fp)


def inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def entry_problem(p: Path, roots: list[str], follow: bool) -> str | None:
    """Why a found file or folder is not read (None: read it). See :func:`discover_files`."""
    try:
        st = os.stat(p)
    except OSError as e:
        return "broken symlink (its target does not exist)" if p.is_symlink() else f"cannot read: {e.strerror or e}"
    target = os.path.realpath(p)
    if any(inside(target, d) for d in SYSTEM_DIRS):
        return f"{'symlink to ' if p.is_symlink() else ''}a system file ({target}); never read"
    if p.is_symlink() and not follow and not any(inside(target, r) for r in roots):
        return OUTSIDE
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file ({files.file_kind(st.st_mode)})"
    return None


def _supported(p: Path) -> bool:
    name = p.name.lower()
    return name.endswith(SUFFIXES) and not name.endswith(SIDECAR_SUFFIX)


def regular_size(path: Path) -> int:
    """Size in bytes of a regular file (symlinks followed); named pipes, devices, sockets and
    folders are refused with their kind named, before anything is opened."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        raise IngestError(f"not a regular file ({files.file_kind(st.st_mode)})")
    return st.st_size


def too_large(size: int, limit: int = MAX_FILE_BYTES) -> IngestError:
    return IngestError(f"file too large ({size // 2**20} MiB > {limit // 2**20} MiB)")


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (checked before reading and while
    reading, in case the file grows); anything else is an IngestError with a one-line reason."""
    size = regular_size(path)
    if size > limit:
        raise too_large(size, limit)
    try:
        with files.open_regular(path) as f:
            data = f.read(limit + 1)
    except files.NotRegularFileError as e:
        raise IngestError(e.strerror) from None
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror or e}") from None
    if len(data) > limit:
        raise too_large(len(data), limit)
    return data


def sidecar_paths(path: Path) -> tuple[Path, Path]:
    """Where a report's sidecar may be: ``NAME.meta.json`` (as the README says) and
    ``NAME.EXT.meta.json`` (``rapport.meta.json``, ``rapport.txt.meta.json``)."""
    return path.with_name(path.stem + SIDECAR_SUFFIX), path.with_name(path.name + SIDECAR_SUFFIX)


def _present(sc: Path) -> bool:
    return sc.is_symlink() or sc.exists()


def has_sidecar(path: Path) -> bool:
    return any(_present(sc) for sc in sidecar_paths(path))


def sidecar_path(path: Path) -> Path:
    """The report's sidecar: the README form when it exists, else the other form."""
    short, long = sidecar_paths(path)
    return long if _present(long) and not _present(short) else short


def _sidecar_bytes(path: Path, sc: Path) -> bytes:
    if sc.is_symlink() and not inside(os.path.realpath(sc), os.path.realpath(path.parent)):
        raise IngestError(f"sidecar {sc.name}: symlink to outside the report's folder; copy the file instead")
    try:
        return read_regular(sc, MAX_SIDECAR_BYTES)
    except IngestError as e:
        raise IngestError(f"sidecar {sc.name}: {e}") from None


def read_sidecar_bytes(path: Path) -> bytes | None:
    """The raw sidecar of ``path`` (None when there is none); a sidecar that is not a small
    regular file, or a symlink to a file outside the report's own folder, is an IngestError
    naming the sidecar, and so are two sidecars (both forms of :func:`sidecar_paths`) that differ."""
    found = [sc for sc in sidecar_paths(path) if _present(sc)]
    data = [_sidecar_bytes(path, sc) for sc in found]
    if len(set(data)) > 1:
        raise IngestError(f"two sidecars {found[0].name} and {found[1].name} differ; keep one of them")
    return data[0] if data else None


def file_sha256(path: Path) -> str:
    """Content hash of a document and its sidecar. Only regular files within
    :data:`MAX_FILE_BYTES` are read; anything else raises IngestError before a byte is read."""
    size = regular_size(path)
    if size > MAX_FILE_BYTES:
        raise too_large(size)
    sidecar = read_sidecar_bytes(path)
    tail = b"" if sidecar is None else b"\0sidecar\0" + sidecar
    try:
        return files.sha256_file(path, tail)
    except files.NotRegularFileError as e:
        raise IngestError(e.strerror) from None


