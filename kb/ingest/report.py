"""What a build reports, folder or Milvus: :class:`BuildReport` (the JSON of ``kb ingest --json``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..records import Failure


@dataclass(frozen=True)
class BuildReport:
    index: str
    rebuilt: bool
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    failed: tuple[Failure, ...] = ()
    documents: int = 0
    passages: int = 0
    embedded: int = 0  # passages embedded (the others came from the cache)
    embedded_sentences: int = 0  # evidence sentences embedded
    embed_tokens_estimate: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    refused: str | None = None  # why nothing was published (kb.ingest.guard.publish_refusal)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["failed"] = [asdict(f) for f in self.failed]
        return d
