"""safe_docstring: no text can close the docstring early or smuggle in control characters."""

from __future__ import annotations

import random
import re
import unicodedata

import pytest

from equidesign.codegen import format_source, safe_docstring

HOSTILE = [
    '"""',
    '""""""',
    '"',
    '""',
    "\\",
    "\\\\\\",
    "'''",
    "\x00",
    'a"',
    "end\\",
    '\\"',
    '\\"""',
    'x"""; import os; """',
    '"leading quote',
    "\\N{BULLET} \\x00 \\u2028 \\n",  # escape sequences that must stay text
    "é\u2028ü\u2029\x85",
    "tab\there",
    "crlf\r\nline\rend",
    "\u202eevil\u202c bidi",
    "lone \ud800 surrogate",
    "\ufeffbom",
    "emoji 🙂 and ∀g∈G",
    "",
]
# quotes, escapes, line breaks, controls and non-ASCII, weighted towards what can break out
ALPHABET = list('"""\\\\\'ab \n\r\t\x00\x01\x0b\x0c\x1b\x7f\x85') + [
    "\u2028",
    "\u202e",
    "\ud800",
    "é",
    "🙂",
    "\\N",
    "\\u",
]
BREAKS = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


def _random_strings(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30))) for _ in range(count)]


CASES = HOSTILE + _random_strings(500)


def _visible(text: str) -> str:
    return "".join(c for c in text if c.isprintable() and not c.isspace())


def _evaluate(source: str) -> str:
    return eval(compile(source, "<docstring>", "eval", dont_inherit=True))


@pytest.mark.parametrize("text", CASES, ids=range(len(CASES)))
def test_safe_docstring_cannot_close_the_string_and_keeps_the_text(text):
    safe = safe_docstring(text)
    value = _evaluate(f'"""{safe}"""')
    assert _visible(value) == _visible(text)  # every printable character, in order
    assert value.count("\n") == len(BREAKS.findall(text))  # every line break, as "\n"
    assert all(c in "\n" or unicodedata.category(c) not in ("Cc", "Cs") for c in value)
    assert not safe.endswith(('"', "\\"))
    assert '"""' not in safe
    safe.encode("utf-8")  # writable


@pytest.mark.parametrize(
    "text, value",
    [('say "hi"', 'say "hi" '), ('a"', 'a" '), ("a\\", "a\\ "), ('x""y', 'x""y'), ("", "")],
)
def test_safe_docstring_changes_only_what_it_must(text, value):
    assert _evaluate(f'"""{safe_docstring(text)}"""') == value
    assert safe_docstring('a "quoted" word') == 'a "quoted" word'  # single quotes stay readable


def test_safe_docstrings_survive_ruff_format():
    texts = HOSTILE + _random_strings(60, seed=1)
    functions = "".join(
        f'def f{i}():\n    """{safe_docstring(t)}"""\n\n\n' for i, t in enumerate(texts)
    )
    formatted = format_source(functions)
    assert format_source(formatted) == formatted
    namespace: dict = {}
    exec(compile(formatted, "<formatted>", "exec", dont_inherit=True), namespace)
    for i, text in enumerate(texts):
        assert _visible(namespace[f"f{i}"].__doc__ or "") == _visible(text), text
