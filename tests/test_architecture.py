"""The code's shape, checked with `ast`: small functions and classes, imports that only go from a
higher stage to a lower one, and no private name used across modules. Sub-packages group one stage
each (kb/ingest, kb/answer, kb/milvus); a module is named by its dotted path below kb.

Layers, low to high (a module may import only from its own layer or lower ones):

0. records, errors, text, sanitize, series_score, files, manifest, ingest.report
                                    typed records, errors, shared text rules, safe output of untrusted text,
                                    scoring of figure series against eval/series; file safety (atomic
                                    writes, safe opening); the typed manifest; a build's report
1. store, analyze, ingest.pdfworker, milvus.connection, milvus.store, answer.client, tables (tablecells: 0), ingest.discover
                                    file formats; Swedish analysis; PDF worker;
                                    the Milvus layout and connection; the language-model client;
                                    finding and opening source files safely
2. ingest.read, ingest.chunk, sentences, answer.forms, answer.params, answer.prompt, answer.check, embed, bm25, sparse, vectors, fuse, rules, cite,
   rowstore, ingest.guard, ingest.config, ingest.plan, ingest.prepare, ingest.embedding, ingest.pdf, ingest.meta,
   milvus.terms
                                    the stages of a build (shared by the folder and the Milvus writer), the pure ranking/citation/answer rules and
                                    the rules deciding whether a build may publish
3. ingest.build, backend, local, milvus.index, milvus.ingest
                                    building an index; the index interface, the folder index and
                                    the Milvus index with its ingest
4. search, answer.question, answer.candidates, answer.choose, answer.quote, answer.extract, evaluate, location, answer.generate, answer.stream, contract
                                    answering a question, scoring runs; opening any index;
                                    generated answers, checked; the JSON contract (CLI and API)
5. cli (cli.args, cli.ingest, cli.search, cli.ask, cli.evaluate, cli.info, cli.__main__), ui_helpers, __init__ (+ app.py), serve.*
                                    the command line, the UI and the HTTP API on top
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {
    "records": 0, "errors": 0, "text": 0, "sanitize": 0, "series_score": 0, "files": 0, "manifest": 0,
    "ingest.report": 0, "ingest.decode": 0, "tablecells": 0,
    "store": 1, "analyze": 1, "ingest.pdfworker": 1, "tables": 1, "ingest.discover": 1,
    "milvus.store": 1, "milvus.connection": 1, "answer.client": 1,
    "ingest.read": 2, "ingest.chunk": 2, "sentences": 2, "answer.forms": 2, "embed": 2, "bm25": 2, "vectors": 2,
    "answer.prompt": 2, "answer.check": 2, "answer.facts": 2,
    "fuse": 2, "figures": 2, "rules": 2, "cite": 2, "rowstore": 2, "sparse": 2, "ingest.guard": 2, "reflow": 2,
    "ingest.config": 2, "ingest.plan": 2, "ingest.prepare": 2, "ingest.embedding": 2, "ingest.pdf": 2,
    "ingest.meta": 2, "milvus.terms": 2,
    "ingest.build": 3, "backend": 3, "local": 3, "milvus.index": 3, "milvus.ingest": 3, "milvus.writer": 3,
    "answer.asked": 2, "answer.params": 2,
    "search": 4, "series": 4, "series_scope": 4, "answer.extract": 4, "answer.question": 4, "answer.candidates": 4,
    "answer.choose": 4, "answer.quote": 4, "evaluate": 4, "location": 4, "answer.generate": 4,
    "answer.stream": 4,
    "contract": 4,
    "cli": 5, "cli.args": 5, "cli.ingest": 5, "cli.search": 5, "cli.ask": 5, "cli.evaluate": 5,
    "cli.info": 5, "cli.__main__": 5, "ui_helpers": 5, "ui_page": 5, "ui_export": 5, "ui_build": 5, "ui_series": 5, "ui_tabs": 5,
    "__init__": 5,
    "serve": 5, "serve.keys": 5, "serve.access": 5, "serve.limits": 5, "serve.holder": 5, "serve.errors": 5,
    "serve.app": 5, "serve.routes": 5, "serve.stream": 5, "serve.run": 5,
    # the sub-packages' own __init__ modules: docstrings only, they import nothing
    "ingest": 0, "answer": 0, "milvus": 0, "data": 0,
}
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 150


def module_name(path: Path) -> str:
    """A file's module name below kb, dotted: kb/ingest/read.py -> ingest.read, kb/ingest/__init__.py -> ingest."""
    parts = path.relative_to(ROOT / "kb").with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def sources() -> dict[str, ast.Module]:
    files = sorted((ROOT / "kb").rglob("*.py")) + [ROOT / "app.py"]
    return {("app" if p.name == "app.py" and p.parent == ROOT else module_name(p)): ast.parse(p.read_text(encoding="utf-8"))
            for p in files}


def package_of(name: str) -> list[str]:
    """The package a module is in, as parts below kb ([] for a top-level module)."""
    if name in ("app", "__init__"):
        return []
    parts = name.split(".")
    return parts if name in ("ingest", "answer", "milvus", "serve", "cli") else parts[:-1]


def kb_imports(name: str, tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(imported kb module, names taken from it) for every import of a kb module in a file."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package_of(name)[: len(package_of(name)) - (node.level - 1)]
            target = ".".join(base + (node.module.split(".") if node.module else []))
        elif node.module == "kb" or (node.module or "").startswith("kb."):
            target = node.module[3:]
        else:
            continue
        names = [a.name for a in node.names]
        submodules = [f"{target}.{n}" if target else n for n in names]
        if all(m in LAYERS for m in submodules):  # from . import x, y  /  from kb.ingest import guard
            out.extend((m, []) for m in submodules)
        else:
            out.append((target or "__init__", names))
    return out


def test_every_module_has_a_layer():
    assert set(sources()) - {"app"} == set(LAYERS), "add the new module to LAYERS (and to the table in docs/architecture.md)"


def test_functions_and_classes_are_small():
    too_long = []
    for name, tree in sources().items():
        for node in ast.walk(tree):
            n = node.end_lineno - node.lineno + 1 if hasattr(node, "end_lineno") else 0
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and n > MAX_FUNCTION_LINES:
                too_long.append(f"{name}.{node.name}: {n} lines")
            if isinstance(node, ast.ClassDef) and n > MAX_CLASS_LINES:
                too_long.append(f"{name}.{node.name} (class): {n} lines")
    assert not too_long, too_long


def test_modules_are_small():
    """No module of kb (nor app.py) is over MAX_MODULE_LINES lines: split one by job when it grows."""
    files = sorted((ROOT / "kb").rglob("*.py")) + [ROOT / "app.py"]
    too_long = {str(p.relative_to(ROOT)): n for p in files
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not too_long, too_long


def test_imports_go_down_the_layers():
    wrong = []
    for name, tree in sources().items():
        mine = LAYERS.get(name, 6)  # app.py sits on top
        for mod, _ in kb_imports(name, tree):
            if mod in LAYERS and LAYERS[mod] > mine:
                wrong.append(f"{name} (layer {mine}) imports {mod} (layer {LAYERS[mod]})")
    assert not wrong, wrong


def test_no_private_name_is_imported_across_modules():
    private = [
        f"{name} imports {mod}.{n}"
        for name, tree in sources().items()
        for mod, names in kb_imports(name, tree)
        for n in names
        if n.startswith("_")
    ]
    assert not private, private


def test_no_private_attribute_of_another_module_is_used():
    used = []
    for name, tree in sources().items():
        modules = {mod.split(".")[-1] for mod, names in kb_imports(name, tree) if not names}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in modules and node.attr.startswith("_")):
                used.append(f"{name} uses {node.value.id}.{node.attr}")
    assert not used, used


def test_the_layer_table_in_docs_is_layers():
    """docs/architecture.md's module table lists exactly the modules of LAYERS, each in its layer."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| *(\d+) *\| *`([\w.]+)` *\|", text, flags=re.M)
    table = {module: int(layer) for layer, module in rows}
    assert len(rows) == len(table), "a module is listed twice"
    assert sorted(set(table) - set(LAYERS)) == [], "listed in docs/architecture.md but not in LAYERS"
    assert sorted(set(LAYERS) - set(table)) == [], "in LAYERS but missing from docs/architecture.md"
    assert {m: n for m, n in table.items() if LAYERS[m] != n} == {}, "listed in another layer than LAYERS says"
