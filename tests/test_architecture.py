"""The code's shape, checked with `ast`: small functions and classes, imports that only go from a
higher stage to a lower one, and no private name used across modules.

Layers, low to high (a module may import only from its own layer or lower ones):

0. records, errors, text, sanitize, series_score
                                    typed records, errors, shared text rules, safe output of untrusted text,
                                    scoring of figure series against eval/series
1. store, analyze, pdfworker, milvus_store
                                    file formats and atomic writes; Swedish analysis; PDF worker;
                                    the Milvus layout and connection
2. ingest, chunk, sentences, forms, embed, bm25, sparse, vectors, fuse, rules, cite, rowstore, guard
                                    the stages of a build, the pure ranking/citation/answer rules and
                                    the rules deciding whether a build may publish
3. build, backend, local, milvus, milvus_ingest
                                    building an index; the index interface, the folder index and
                                    the Milvus index with its ingest
4. search, answer, evaluate, location, generate
                                    answering a question, scoring runs; opening any index;
                                    generated answers, checked
5. cli, ui_helpers, __init__ (+ app.py)   the command line and the UI on top
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {
    "records": 0, "errors": 0, "text": 0, "sanitize": 0, "series_score": 0,
    "store": 1, "analyze": 1, "pdfworker": 1,
    "milvus_store": 1,
    "ingest": 2, "chunk": 2, "sentences": 2, "forms": 2, "embed": 2, "bm25": 2, "vectors": 2, "fuse": 2, "rules": 2,
    "cite": 2, "rowstore": 2, "sparse": 2, "guard": 2,
    "build": 3, "backend": 3, "local": 3, "milvus": 3, "milvus_ingest": 3,
    "search": 4, "answer": 4, "evaluate": 4, "location": 4, "generate": 4,
    "cli": 5, "ui_helpers": 5, "__init__": 5,
}
MAX_FUNCTION_LINES = 80
MAX_CLASS_LINES = 150


def sources() -> dict[str, ast.Module]:
    files = sorted((ROOT / "kb").glob("*.py")) + [ROOT / "app.py"]
    return {p.stem if p.parent.name == "kb" else "app": ast.parse(p.read_text(encoding="utf-8")) for p in files}


def kb_imports(name: str, tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(imported kb module, names taken from it) for every import of a kb module in a file."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1 and mod:  # from .x import a, b
                out.append((mod.split(".")[0], [a.name for a in node.names]))
            elif node.level == 1:  # from . import x, y
                out.extend((a.name, []) for a in node.names)
            elif mod.startswith("kb.") or mod == "kb":
                sub = mod.split(".")[1] if "." in mod else None
                if sub:
                    out.append((sub, [a.name for a in node.names]))
                else:
                    out.extend((a.name, []) for a in node.names if a.name in LAYERS)
    return out


def test_every_module_has_a_layer():
    assert set(sources()) - {"app"} == set(LAYERS), "add the new module to LAYERS (and to the README's table)"


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
        modules = {mod for mod, names in kb_imports(name, tree) if not names}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in modules and node.attr.startswith("_")):
                used.append(f"{name} uses {node.value.id}.{node.attr}")
    assert not used, used
