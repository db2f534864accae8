"""Readers during rebuilds: every answer comes from one whole generation (the old or the new),
never a mixture; a reader whose generation is pruned while it loads re-resolves CURRENT."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import SMALL_DOCS

from kb import open_index, store
from kb.errors import KBError
from kb.ingest.build import BuildConfig, build_index

CFG = BuildConfig(embedder="hash:64")
QUERY = "underskott LSS hemtjänst kostnader"


def answer(root: Path) -> list:
    kb = open_index(root)
    return [(h.chunk_id, round(h.score, 6), h.text) for h in kb.search(QUERY, k=5).hits]


@pytest.fixture
def two_corpora(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for name, text in SMALL_DOCS.items():
        (a / name).write_text(text, encoding="utf-8")
        (b / name).write_text(text.replace("hemtjänst", "hemtjänst och LSS-stöd"), encoding="utf-8")
    (b / "extra-2022.txt").write_text(" LSS\nUnderskott inom LSS och hemtjänst 2022 beror på kostnader.\n", encoding="utf-8")
    res = {}
    for name, folder in (("a", a), ("b", b)):
        build_index([folder], tmp_path / f"ref-{name}", CFG, corpus_root=folder)
        res[name] = answer(tmp_path / f"ref-{name}")
    assert res["a"] != res["b"]
    return a, b, res


def test_readers_during_rebuilds_see_old_or_new_never_a_mix(tmp_path, two_corpora):
    a, b, res = two_corpora
    root = tmp_path / "live"
    build_index([a], root, CFG, corpus_root=a, replace=True)
    long_lived = open_index(root)  # opened before all rebuilds: keeps answering from its generation
    stop = threading.Event()
    seen: dict[str, int] = {"a": 0, "b": 0}
    errors: list[str] = []

    def reader():
        while not stop.is_set():
            try:
                got = answer(root)
            except KBError as e:  # must not happen: retries cover pruned generations
                errors.append(f"KBError: {e}")
                continue
            if got == res["a"]:
                seen["a"] += 1
            elif got == res["b"]:
                seen["b"] += 1
            else:
                errors.append("mixed result")

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(10):  # quick successive rebuilds, alternating corpora (each prunes)
            folder = b if i % 2 == 0 else a
            build_index([folder], root, CFG, corpus_root=folder, replace=True)
            time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:5]
    assert seen["a"] + seen["b"] >= 10
    got = [(h.chunk_id, round(h.score, 6), h.text) for h in long_lived.search(QUERY, k=5).hits]
    assert got == res["a"]
    assert len(list(root.glob("gen-*"))) <= store.KEEP_GENERATIONS


def test_reader_whose_generation_is_pruned_while_loading_retries(tmp_path, two_corpora, monkeypatch):
    """The race from the issue: a reader resolves CURRENT, then two builds publish and prune
    that generation before the reader has read its files."""
    a, b, res = two_corpora
    root = tmp_path / "live"
    build_index([a], root, CFG, corpus_root=a, replace=True)
    real_verify = store.verify_files
    fired = []

    def verify_then_race(gen, manifest):
        if not fired:
            fired.append(gen.name)
            build_index([b], root, CFG, corpus_root=b, replace=True)
            build_index([a], root, CFG, corpus_root=a, replace=True)  # the generation being opened is now gone
            build_index([b], root, CFG, corpus_root=b, replace=True)
            assert not gen.exists()
        return real_verify(gen, manifest)

    monkeypatch.setattr(store, "verify_files", verify_then_race)
    assert answer(root) == res["b"]
    assert fired


def test_reader_pruned_mid_load_without_verification(tmp_path, two_corpora, monkeypatch):
    """Same race without checksums (verify=False): files vanish while the index loads."""
    from kb import local

    a, b, res = two_corpora
    root = tmp_path / "live"
    build_index([a], root, CFG, corpus_root=a, replace=True)
    real_init = local.LocalIndex.__init__
    fired = []

    def init(self, r, gen, manifest):
        if not fired:
            fired.append(1)
            build_index([b], root, CFG, corpus_root=b, replace=True)
            build_index([a], root, CFG, corpus_root=a, replace=True)
            build_index([b], root, CFG, corpus_root=b, replace=True)
        return real_init(self, r, gen, manifest)

    monkeypatch.setattr(local.LocalIndex, "__init__", init)
    kb = open_index(root, verify=False)
    assert [(h.chunk_id, round(h.score, 6), h.text) for h in kb.search(QUERY, k=5).hits] == res["b"]


def test_damage_in_the_live_generation_is_not_retried_forever(tmp_path, two_corpora):
    a, _, _ = two_corpora
    root = tmp_path / "live"
    build_index([a], root, CFG, corpus_root=a, replace=True)
    gen = store.current_generation(root)
    (gen / "lexicon.json").write_text("{}")
    with pytest.raises(KBError, match="damaged"):
        open_index(root)


def test_subprocess_readers_during_cli_rebuilds(tmp_path, two_corpora):
    """Separate processes: `kb search --json` in a loop while `kb ingest` replaces the index."""
    a, b, res = two_corpora
    root = tmp_path / "live"
    build_index([a], root, CFG, corpus_root=a, replace=True)
    script = textwrap.dedent(f"""
        import json, sys, time
        from kb import open_index
        out = []
        t = time.time()
        while time.time() - t < 2.5:
            kb = open_index({str(root)!r})
            out.append([[h.chunk_id, round(h.score, 6), h.text] for h in kb.search({QUERY!r}, k=5).hits])
        print(json.dumps(out))
    """)
    reader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for i in range(4):
        folder = b if i % 2 == 0 else a
        r = subprocess.run([sys.executable, "-m", "kb.cli", "ingest", str(folder), "--index", str(root),
                            "--embedder", "hash:64", "--quiet", "--replace"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    import json

    seen = json.loads(out)
    allowed = [[list(x) for x in res["a"]], [list(x) for x in res["b"]]]
    assert seen and all(s in allowed for s in seen)
    shutil.rmtree(root)
