"""Crash safety: SIGKILL at every file-system step of `kb ingest` and at random times, write
errors (full disk) mid-build, and damaged index files. The live index must stay loadable and
answer exactly as before (or exactly as the new build, once it was published), never a mix."""
from __future__ import annotations

import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import SMALL_DOCS

from kb import files, open_index, store
from kb.errors import IndexCorruptError, KBError
from kb.ingest.build import BuildConfig, build_index

CFG = BuildConfig(embedder="hash:64")
QUERIES = ["underskott LSS", "sjukfrånvaro 2019", "överskott 2023", "hemtjänst kostnader", "äldreomsorg budget"]
EXTRA = (" Äldreomsorg\nÄldreomsorgens budget för 2024 ökar med 3 procent. Hemtjänsten får fler "
         "brukare och kostnaderna för LSS ökar.\n")

# A driver that runs `kb ingest` and kills itself with SIGKILL just before its N-th file-system
# step (write, rename, replace, directory fsync, delete), or only counts the steps when N = 0.
DRIVER = textwrap.dedent("""
    import os, shutil, signal, sys
    from kb import files
    n = int(os.environ["KB_CRASH_AT"]); count = [0]
    def hook(name, fn):
        def wrapped(*a, **k):
            count[0] += 1
            if count[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(*a, **k)
        return wrapped
    files.atomic_write_bytes = hook("write", files.atomic_write_bytes)
    files.fsync_dir = hook("fsync_dir", files.fsync_dir)
    os.rename = hook("rename", os.rename)
    os.replace = hook("replace", os.replace)
    shutil.rmtree = hook("rmtree", shutil.rmtree)
    from kb.cli import main
    code = main(sys.argv[1:])
    with open(os.environ["KB_CRASH_COUNT"], "w") as f:
        f.write(str(count[0]))
    sys.exit(code)
""")


def results(root: Path) -> list:
    kb = open_index(root)
    return [[(h.chunk_id, round(h.score, 6), h.text) for h in kb.search(q, k=5).hits] for q in QUERIES]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A corpus, its index (old), the changed corpus and the index it gives (new)."""
    base = tmp_path_factory.mktemp("crash")
    corpus = base / "corpus"
    corpus.mkdir()
    for name, text in SMALL_DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    old = base / "old"
    (corpus / "tillfallig.txt").write_text("En tidigare generation med en fil som sedan togs bort.\n", encoding="utf-8")
    build_index([corpus], old, CFG)
    (corpus / "tillfallig.txt").unlink()
    build_index([corpus], old, CFG)  # two generations: the rebuild under test also prunes one
    assert len(list(old.glob("gen-*"))) == 2
    old_res = results(old)
    (corpus / "aldreomsorg-budget-2024.txt").write_text(EXTRA, encoding="utf-8")
    (corpus / "leanlink-verksamhetsberattelse-2019.txt").write_text(
        SMALL_DOCS["leanlink-verksamhetsberattelse-2019.txt"] + "Budgeten för äldreomsorg ökar.\n", encoding="utf-8")
    new = base / "new"
    shutil.copytree(old, new)
    build_index([corpus], new, CFG)
    new_res = results(new)
    assert old_res != new_res
    return base, corpus, old, old_res, new_res


def run_ingest(corpus: Path, root: Path, crash_at: int, count_file: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, KB_CRASH_AT=str(crash_at), KB_CRASH_COUNT=str(count_file))
    return subprocess.run(
        [sys.executable, "-c", DRIVER, "ingest", str(corpus), "--index", str(root), "--embedder", "hash:64", "--quiet"],
        env=env, capture_output=True, text=True, timeout=120,
    )


def leftovers(root: Path) -> list[str]:
    found = [p.name for p in root.glob(".tmp-*")] + [p.name for p in root.glob(".*.tmp")]
    found += [str(p) for p in (root / "cache").rglob(".*.tmp")] if (root / "cache").exists() else []
    return found


def test_sigkill_at_every_step_leaves_a_working_index(setup):
    base, corpus, old, old_res, new_res = setup
    # dry run: how many file-system steps does the rebuild take?
    probe = base / "probe"
    shutil.copytree(old, probe)
    r = run_ingest(corpus, probe, 0, base / "count")
    assert r.returncode == 0, r.stderr
    steps = int((base / "count").read_text())
    assert steps >= 15
    outcomes = {"old": 0, "new": 0}
    # two builds at a time (separate index folders), then check each
    procs: list[tuple[int, subprocess.Popen]] = []
    for n in range(1, steps + 1):
        root = base / f"kill-{n}"
        shutil.copytree(old, root)
        if n > 2:
            procs[n - 3][1].wait(timeout=120)  # at most two running
        env = dict(os.environ, KB_CRASH_AT=str(n), KB_CRASH_COUNT=str(base / f"count-{n}"))
        procs.append((n, subprocess.Popen(
            [sys.executable, "-c", DRIVER, "ingest", str(corpus), "--index", str(root), "--embedder", "hash:64", "--quiet"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    for n, p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == -signal.SIGKILL, (n, p.returncode, err[-500:])
    for n in range(1, steps + 1):
        root = base / f"kill-{n}"
        got = results(root)  # verified load: checksums of every file
        assert got in (old_res, new_res), f"step {n}: results are neither the old nor the new index"
        outcomes["old" if got == old_res else "new"] += 1
        # the next run cleans up and publishes the new index
        build_index([corpus], root, CFG)
        assert results(root) == new_res
        assert not leftovers(root), (n, leftovers(root))
        gens = [p.name for p in root.glob("gen-*")]
        assert len(gens) <= store.KEEP_GENERATIONS, (n, gens)
        shutil.rmtree(root)
    assert outcomes["old"] >= 1 and outcomes["new"] >= 1
    print(f"\nSIGKILL at {steps} steps: old index live after {outcomes['old']}, new after {outcomes['new']}")


def test_sigkill_at_random_times(setup):
    base, corpus, old, old_res, new_res = setup
    rnd = random.Random(7)
    for i in range(6):
        root = base / f"rnd-{i}"
        shutil.copytree(old, root)
        cache = root / "cache"
        shutil.rmtree(cache, ignore_errors=True)  # force real work (embedding) so kills land mid-build
        env = dict(os.environ, KB_CRASH_AT="0", KB_CRASH_COUNT=str(base / "rc"))
        p = subprocess.Popen([sys.executable, "-c", DRIVER, "ingest", str(corpus), "--index", str(root),
                              "--embedder", "hash:64", "--quiet"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.05, 0.6))
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert results(root) in (old_res, new_res)
        build_index([corpus], root, CFG)
        assert results(root) == new_res and not leftovers(root)
        shutil.rmtree(root)


@pytest.mark.parametrize("errno_", [errno.ENOSPC, errno.EIO])
def test_write_error_mid_build_fails_cleanly_and_keeps_old_index(setup, monkeypatch, errno_):
    base, corpus, old, old_res, new_res = setup
    real = files.atomic_write_bytes
    n_writes = 0

    def counting(path, data):
        nonlocal n_writes
        n_writes += 1
        return real(path, data)

    probe = base / f"probe-w{errno_}"
    shutil.copytree(old, probe)
    monkeypatch.setattr(files, "atomic_write_bytes", counting)
    build_index([corpus], probe, CFG)
    total = n_writes
    assert total >= 5
    for fail_at in range(1, total + 1):
        root = base / f"enospc-{errno_}-{fail_at}"
        shutil.copytree(old, root)
        calls = 0

        def failing(path, data):
            nonlocal calls
            calls += 1
            if calls >= fail_at:  # noqa: B023 (called within this iteration)
                raise OSError(errno_, os.strerror(errno_), str(path))
            return real(path, data)

        monkeypatch.setattr(files, "atomic_write_bytes", failing)
        if fail_at == 1 and calls == 0:
            pass
        try:
            build_index([corpus], root, CFG)
            raised = None
        except KBError as e:
            raised = str(e)
        monkeypatch.setattr(files, "atomic_write_bytes", real)
        if raised is None:  # only the embedding cache failed to save: the index itself is new
            assert results(root) == new_res
        else:
            assert "previous index is unchanged" in raised
            assert ("disk is full" in raised) if errno_ == errno.ENOSPC else ("EIO" in raised)
            assert results(root) == old_res
        assert not list(root.glob(".tmp-*"))
        build_index([corpus], root, CFG)  # disk freed: the next run succeeds
        assert results(root) == new_res
        shutil.rmtree(root)


def test_faiss_write_error_is_a_clean_kb_error(setup, monkeypatch):
    base, corpus, old, old_res, _ = setup
    from kb import vectors

    root = base / "faiss-fail"
    shutil.copytree(old, root)

    def boom(*a, **k):
        raise RuntimeError("Error in faiss::FileIOWriter: No space left on device")

    monkeypatch.setattr(vectors, "save", boom)
    with pytest.raises(KBError, match="could not write the index"):
        build_index([corpus], root, CFG)
    assert results(root) == old_res and not list(root.glob(".tmp-*"))


def test_damaged_files_are_reported_not_loaded(setup):
    base, corpus, old, old_res, _ = setup
    gen = store.current_generation(old)
    files = sorted(p.relative_to(gen) for p in gen.rglob("*") if p.is_file())
    assert len(files) >= 8
    checked = 0
    for rel in files:
        for damage in ("truncate", "flip", "delete", "empty"):
            root = base / "damaged"
            shutil.copytree(old, root)
            p = store.current_generation(root) / rel
            data = p.read_bytes()
            if damage == "truncate":
                p.write_bytes(data[: len(data) // 2])
            elif damage == "flip":
                i = len(data) // 3
                p.write_bytes(data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1:])
            elif damage == "delete":
                p.unlink()
            else:
                p.write_bytes(b"")
            with pytest.raises(KBError) as ei:
                open_index(root)
            assert isinstance(ei.value, IndexCorruptError) or str(rel) == store.MANIFEST
            assert "kb ingest" in str(ei.value)
            checked += 1
            # the next build repairs it
            build_index([corpus], root, BuildConfig(embedder="hash:64"))
            open_index(root)
            shutil.rmtree(root)
    assert checked == 4 * len(files)


def test_current_pointing_nowhere_is_a_clear_error(setup):
    base, _, old, _, _ = setup
    root = base / "badcurrent"
    shutil.copytree(old, root)
    (root / "CURRENT").write_text("gen-does-not-exist\n")
    with pytest.raises(IndexCorruptError, match="kb ingest"):
        open_index(root)
    (root / "CURRENT").write_bytes(b"\xff\xfe garbage")
    with pytest.raises(KBError):
        open_index(root)
    shutil.rmtree(root)


def test_nothing_is_unpickled():
    src = Path(__file__).resolve().parent.parent / "kb"
    for f in src.glob("*.py"):
        text = f.read_text(encoding="utf-8")
        for m in re.finditer(r"np\.load\(([^)]*)\)", text):
            assert "allow_pickle=False" in m.group(1), f"{f.name}: {m.group(0)}"
        assert "import pickle" not in text and "pickle.load" not in text, f.name
