"""Step 4 of every build, folder or Milvus: vectors through the embedding cache.

A text the cache holds (same text, same model) is never embedded again. The cache only grows
during a build: :func:`embed_texts` adds the new vectors and drops nothing, and entries no
longer used are dropped only once the build is published (:func:`prune_cache`), so a failed
build never shrinks it. It is only a cache: a failed save leaves the old file.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..embed import Embedder, EmbeddingCache, text_key

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _noop(stage: str, done: int, total: int) -> None:
    pass


def embed_texts(
    texts: Sequence[str], embedder: Embedder, cache: EmbeddingCache | None, progress: Progress = _noop
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Vectors of ``texts`` (row i for text i), embedding only texts the cache does not hold
    (the same text twice is embedded once); returns the matrix and the positions of the texts
    that were embedded. New vectors are put into ``cache`` (not saved: :func:`save_cache`)."""
    keys = [text_key(x) for x in texts]
    missing = sorted({k: i for i, k in enumerate(keys) if cache is None or cache.get(k) is None}.values())
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        progress("embed", done, len(missing))

    progress("embed", 0, len(missing))
    fresh: dict[str, np.ndarray] = {}
    if missing:
        new = embedder.embed_passages([texts[i] for i in missing], progress=tick)
        for i, v in zip(missing, new):
            fresh[keys[i]] = v
            if cache is not None:
                cache.put(keys[i], v)
    if not keys:
        return np.zeros((0, embedder.dim), np.float32), ()
    got: list[Any] = [fresh[k] if k in fresh else cache.get(k) for k in keys]  # type: ignore[union-attr]
    return np.stack(got).astype(np.float32), tuple(missing)


def save_cache(cache: EmbeddingCache | None, keep: set[str] | None = None) -> None:
    if cache is None:
        return
    try:
        cache.save(keep=keep)
    except OSError:
        pass  # only a cache (written atomically, the old one stays); the index write reports a full disk


def prune_cache(cache: EmbeddingCache, texts: Sequence[str]) -> None:
    """After a publication: drop the cached vectors no passage or sentence of the live index uses."""
    keep = {text_key(x) for x in texts}
    if len(cache) > len(keep):
        save_cache(cache, keep)
