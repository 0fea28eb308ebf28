"""User text inside Markdown elements (st.markdown, st.caption, st.success, ...): shown literally, never as markup.

Prefer elements that never parse Markdown (st.text, st.code, st.dataframe cells); where a sentence mixes a
translated string with user text, escape the user text with ``md_escape``.
"""

from __future__ import annotations

import re

#: Every ASCII punctuation character CommonMark lets a backslash escape (links, images, emphasis, HTML, Streamlit's
#: ``:color[...]`` and ``:material/icon:`` directives, LaTeX ``$``).
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&\"'=^@%;/?,])")


def md_escape(text: object) -> str:
    """``text`` with Markdown/HTML syntax escaped and line breaks flattened, so it renders as typed."""
    value = "" if text is None else str(text)
    value = value.replace("\r", " ").replace("\n", " ")
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", value)
