"""The kb command: search (single, batch, JSON), eval with run/TREC output, info, ingest, errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.cli import main

HIT_FIELDS = {"rank", "score", "doc_id", "title", "year", "organisation", "doc_type", "page", "line_start",
              "line_end", "section", "start", "end", "text", "citation"}

GOLD = [
    {"id": "g1", "query": "underskott inom LSS 2023", "type": "why", "year": 2023,
     "relevant": [{"doc": "kommunstyrelsen-verksamhetsberattelse-2023.txt", "quote": "Underskott inom LSS uppgår till -46 mkr.", "grade": 2}]},
    {"id": "g2", "query": "sjukfrånvaro 2019", "type": "fact", "year": 2019,
     "relevant": [{"doc": "leanlink-verksamhetsberattelse-2019.txt", "quote": "Sjukfrånvaron var 8,1 procent 2019.", "grade": 2}]},
    {"id": "g3", "query": "brukare hemtjänst", "type": "keyword", "year": None,
     "relevant": [{"doc": "kommunstyrelsen-verksamhetsberattelse-2023.txt", "quote": "Hemtjänsten har fått fler brukare", "grade": 2}]},
]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def run_json(capsys, argv):
    assert main(argv) == 0
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_search_json(small_index, capsys):
    [res] = run_json(capsys, ["search", "underskott inom LSS 2023", "--index", str(small_index), "--json", "-k", "2"])
    assert res["query"] == "underskott inom LSS 2023"
    assert 1 <= len(res["hits"]) <= 2
    top = res["hits"][0]
    assert HIT_FIELDS <= set(top) and top["rank"] == 1
    assert top["doc_id"] == "kommunstyrelsen-verksamhetsberattelse-2023" and "LSS" in top["text"]


def test_search_json_filters(small_index, capsys):
    [res] = run_json(capsys, ["search", "underskott LSS", "--index", str(small_index), "--json", "--year", "2019"])
    assert res["hits"] and {h["year"] for h in res["hits"]} == {2019}
    [res] = run_json(capsys, ["search", "underskott LSS", "--index", str(small_index), "--json", "--org", "Kommunstyrelsen",
                              "--mode", "bm25"])
    assert res["hits"] and {h["organisation"] for h in res["hits"]} == {"Kommunstyrelsen"}
    [res] = run_json(capsys, ["search", "underskott", "--index", str(small_index), "--json", "--doc", "nope"])
    assert res["hits"] == []


def test_search_human_output(small_index, capsys):
    assert main(["search", "underskott LSS 2023", "--index", str(small_index), "-k", "1"]) == 0
    out = capsys.readouterr().out
    assert "år i frågan: 2023" in out and "[1] Verksamhetsberättelse 2023 – Kommunstyrelsen" in out
    assert main(["search", "xyzzy", "--index", str(small_index), "--mode", "bm25"]) == 0
    assert "Inga träffar." in capsys.readouterr().out


def test_batch_search(small_index, tmp_path, capsys):
    qfile = write_jsonl(tmp_path / "q.jsonl", [
        {"id": "b", "query": "hemtjänst brukare"}, {"id": "a", "query": "underskott LSS"}, {"query": "sjukfrånvaro"},
    ])
    rows = run_json(capsys, ["search", "--queries", str(qfile), "--json", "-k", "10", "--index", str(small_index)])
    assert [r["query_id"] for r in rows] == ["b", "a", "3"]  # input order; line number without an id
    for r in rows:
        assert set(r) == {"query_id", "hits"} and r["hits"]
        assert [h["rank"] for h in r["hits"]] == list(range(1, len(r["hits"]) + 1))
        assert all(HIT_FIELDS <= set(h) for h in r["hits"])
    assert "fler brukare" in rows[0]["hits"][0]["text"]


def test_batch_search_errors(small_index, tmp_path, capsys):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "text": "no query"}])
    assert main(["search", "--queries", str(bad), "--index", str(small_index)]) == 2
    assert "missing \"query\"" in capsys.readouterr().err
    assert main(["search", "--queries", str(tmp_path / "none.jsonl"), "--index", str(small_index)]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["search", "--index", str(small_index)]) == 2
    assert "give either a QUERY or --queries" in capsys.readouterr().err


def test_eval_with_run_and_trec(small_index, tmp_path, capsys):
    gold = write_jsonl(tmp_path / "gold.jsonl", GOLD)
    run_out, trec_out = tmp_path / "run.jsonl", tmp_path / "run.trec"
    assert main(["eval", str(gold), "--index", str(small_index), "--run-out", str(run_out), "--trec-out", str(trec_out),
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["queries"] == 3 and set(res["per_query"]) == {"g1", "g2", "g3"}
    assert set(res["by_type"]) == {"why", "fact", "keyword"}
    assert res["mean"]["success@5"] == 1.0 and res["per_query"]["g1"]["success@1"] == 1.0

    run = [json.loads(line) for line in run_out.read_text(encoding="utf-8").splitlines()]
    assert [r["query_id"] for r in run] == ["g1", "g2", "g3"]
    assert all(HIT_FIELDS <= set(h) for r in run for h in r["hits"])

    trec = trec_out.read_text().splitlines()
    assert len(trec) == sum(len(r["hits"]) for r in run)
    chunk_ids = {h["chunk_id"] for r in run for h in r["hits"]}
    for line in trec:
        qid, q0, docno, rank, score, tag = line.split(" ")
        assert qid in {"g1", "g2", "g3"} and q0 == "Q0" and docno in chunk_ids and tag == "kb"
        assert int(rank) >= 1 and float(score) > 0
    first = run[0]["hits"][0]
    assert trec[0] == f"g1 Q0 {first['chunk_id']} 1 {first['score']:.6f} kb"

    # the run file scores the same with the shared reference scorer
    from test_evaluate import REF

    ref = REF.evaluate(GOLD, {r["query_id"]: [h["text"] for h in r["hits"]] for r in run})
    assert ref["mean"] == pytest.approx(res["mean"])


def test_eval_table_output(small_index, tmp_path, capsys):
    gold = write_jsonl(tmp_path / "gold.jsonl", GOLD)
    assert main(["eval", str(gold), "--index", str(small_index), "-k", "5"]) == 0
    out = capsys.readouterr().out
    assert "success@1" in out and "all (3)" in out and "query latency p50" in out
    assert main(["eval", str(tmp_path / "missing.jsonl"), "--index", str(small_index)]) == 2
    assert "cannot read gold file" in capsys.readouterr().err


def test_info(small_index, capsys):
    assert main(["info", "--index", str(small_index), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["documents"] == 2 and info["embedder"] == "hash:64" and info["passages"] >= 2
    assert {d["doc_id"] for d in info["documents_list"]} == {
        "kommunstyrelsen-verksamhetsberattelse-2023", "leanlink-verksamhetsberattelse-2019"}
    assert main(["info", "--index", str(small_index)]) == 0
    out = capsys.readouterr().out
    assert "documents: 2" in out and "Leanlink | verksamhetsberättelse | 2019" in out


def test_ingest_json_and_noop(small_corpus, tmp_path, capsys):
    root = tmp_path / "ix"
    args = ["ingest", str(small_corpus), "--index", str(root), "--embedder", "hash:16"]
    assert main([*args, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["rebuilt"] and rep["documents"] == 2 and len(rep["added"]) == 2
    assert main([*args, "--quiet"]) == 0
    assert "is up to date" in capsys.readouterr().out


@pytest.mark.parametrize("cmd", [["search", "underskott"], ["search", "--queries", "gold.jsonl"], ["info"], ["eval", "gold.jsonl"]])
def test_missing_index_exit_2(tmp_path, capsys, cmd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "gold.jsonl", GOLD)
    assert main([*cmd, "--index", str(tmp_path / "no-index")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kb: error: no index at") and "kb ingest" in err
    assert len(err.strip().splitlines()) == 1  # one clear line, no traceback


def test_bad_embedder_exit_2(small_corpus, tmp_path, capsys):
    assert main(["ingest", str(small_corpus), "--index", str(tmp_path / "i"), "--embedder", "sentence-transformers:"
                 + str(tmp_path / "no-model"), "--quiet"]) == 2
    assert "model folder not found" in capsys.readouterr().err


def _kb_script() -> str:
    exe = Path(sys.executable).parent / "kb"
    assert exe.is_file(), "the kb console script is installed with the package"
    return str(exe)


def test_console_script_subprocess(small_index, tmp_path):
    env = {**os.environ, "KB_INDEX": str(small_index)}
    p = subprocess.run([_kb_script(), "search", "underskott LSS 2023", "--json", "-k", "3"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["hits"][0]["doc_id"] == "kommunstyrelsen-verksamhetsberattelse-2023"
    p = subprocess.run([_kb_script(), "info", "--index", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "kb: error: no index at" in p.stderr and "kb ingest" in p.stderr and p.stdout == ""
    p = subprocess.run([sys.executable, "-m", "kb.cli", "info", "--index", str(small_index), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and json.loads(p.stdout)["documents"] == 2


def test_long_question_note_on_stderr_json_unchanged(small_index, capsys):
    from kb.search import MAX_QUERY_CHARS

    q = "hemtjänst " * 500
    assert main(["search", q, "--index", str(small_index), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["query"] == q  # the contract echoes the question as given
    assert f"only the first {MAX_QUERY_CHARS}" in err and err.count("\n") == 1
