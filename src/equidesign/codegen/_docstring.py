"""Text from a spec made safe to sit inside a generated docstring."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["safe_docstring"]

_LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")
# bidirectional overrides and isolates reorder how source is displayed ("trojan source")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_QUOTE_RUNS = re.compile(r'"{2,}')


def _kept(char: str) -> bool:
    if char == "\n":
        return True
    if char in _BIDI or char == "\ufeff":
        return False
    # Cc: control characters; Cs: lone surrogates (not encodable, so not writable)
    return unicodedata.category(char) not in ("Cc", "Cs")


def safe_docstring(text: str) -> str:
    """``text`` made safe to place between triple double quotes.

    Line breaks become ``\\n`` and tabs spaces; other control characters, lone surrogates and
    bidirectional overrides are dropped. Backslashes are doubled and every quote that touches
    another quote is escaped, so no ``\"\"\"`` can form; a single space is appended when the
    result would end with a quote or a backslash. Hence, for every string ``s``,
    ``eval('\"\"\"' + safe_docstring(s) + '\"\"\"')`` is ``s`` without the dropped characters
    (plus, at most, that one space).

    Args:
        text: any text (a spec's description, its YAML).

    Returns:
        The text, ready to be written between ``\"\"\"`` and ``\"\"\"``.
    """
    text = _LINE_BREAKS.sub("\n", text).expandtabs(4)
    text = "".join(char for char in text if _kept(char))
    text = text.replace("\\", "\\\\")
    text = _QUOTE_RUNS.sub(lambda run: '\\"' * len(run.group()), text)
    if text.endswith(('"', "\\")):
        text += " "
    return text
