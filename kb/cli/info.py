"""``kb info`` (what the index holds, and the language model server in use), and the entry points of
``kb serve`` and ``kb keys`` (:mod:`kb.serve.run`)."""
from __future__ import annotations

import argparse
import json

from ..errors import KBError
from ..sanitize import safe_terminal
from .args import open_kb


def llm_info() -> dict:
    """The language model server in use for ``kb info`` (nothing when ``KB_LLM_URL`` is unset)."""
    from ..answer.client import LLMSettings

    try:
        s = LLMSettings.from_env()
    except KBError as e:
        return {"llm_error": str(e)}
    return {} if s is None else {"llm_url": s.display_url(), "llm_model": s.model}


def cmd_info(a: argparse.Namespace) -> int:
    kb = open_kb(a)
    st = kb.stats() | llm_info()
    if a.json:
        print(json.dumps({**st, "documents_list": list(kb.manifest.document_entries)}, ensure_ascii=False, indent=1))
        return 0
    for key, v in st.items():
        print(f"{key:>15}: {safe_terminal(v)}")
    for d in kb.manifest.document_entries:
        fields = (d.get("title"), d.get("organisation"), d.get("doc_type"), d.get("year"))
        print(f"  - {safe_terminal(d.get('doc_id'))}: " + " | ".join(safe_terminal(x) for x in fields))
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    from ..serve.run import cmd_serve as serve

    return serve(a)


def cmd_keys(a: argparse.Namespace) -> int:
    from ..serve.run import cmd_keys as keys

    return keys(a)
