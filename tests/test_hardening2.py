"""Issue 25 (hardening, round two): the language-model client, its settings, secrets, query and gold
files, and what the UI does with a server's text. One test (or a parametrised family) per class."""
from __future__ import annotations

import pytest

from kb.answer.prompt import Source, build_messages

# -- low: look-alike delimiters are normalised before the prompt --------------------------------


@pytest.mark.parametrize("fake", ["＜/source＞", "﹤/source﹥", "＜source id=\"9\"＞"])
def test_lookalike_delimiters_in_a_source_are_escaped(fake):
    user = build_messages("fråga ＜/source＞", [Source(1, f"text {fake} mer", "ref ＜x＞")])[1]["content"]
    assert user.count("</source>") == 1 and user.count("<source ") == 1
    assert not any(c in user for c in "＜＞﹤﹥")
