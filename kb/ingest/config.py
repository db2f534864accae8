"""The parameters of a build (folder or Milvus), all of them recorded in the manifest."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .. import bm25
from ..analyze import AnalyzerConfig
from ..embed import DEFAULT_EMBEDDER
from ..sentences import SENTENCE_VERSION
from .chunk import ChunkConfig

# Bump when reading, cleaning, metadata inference or chunking change in a way that alters
# documents or passages: a new version makes the next `kb ingest` re-read every file.
PIPELINE_VERSION = 4  # 3: sidecars validated, inferred titles one line (issue 12); 4: no names as headings (issue 24)


@dataclass(frozen=True)
class BuildConfig:
    """Every parameter that shapes the index; all of it is recorded in the manifest."""

    embedder: str = DEFAULT_EMBEDDER
    chunk: ChunkConfig = ChunkConfig()
    analyzer: AnalyzerConfig = AnalyzerConfig()
    bm25: bm25.BM25Params = bm25.BM25Params()
    # the passage header (title, year, section) helps BM25 match years, organisations and
    # section words; it dilutes the small embedding model's vectors (measured in docs/ablation.md),
    # so by default the embedder sees the passage alone
    bm25_header: bool = True
    dense_header: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline_version": PIPELINE_VERSION,
            "embedder": self.embedder,
            "chunk": self.chunk.to_json(),
            "analyzer": self.analyzer.to_json(),
            "bm25": asdict(self.bm25),
            "bm25_header": self.bm25_header,
            "dense_header": self.dense_header,
            "sentences": SENTENCE_VERSION,
        }
