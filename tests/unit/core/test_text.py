"""The text rule: which characters a value may hold, one line or several."""

from __future__ import annotations

import json
from typing import Any

import pytest

from synchub.core.errors import InvalidText
from synchub.core.text import check_text, check_tree, loads_repaired, problem, shown

# (text, acceptable on one line, acceptable in a multi-line field)
CASES = [
    ("nas:/photos/2025", True, True),
    ("Fotos é📷 中文 \u200d", True, True),  # text beyond ASCII, a joiner (a format char)
    ("", True, True),
    ("a\tb", False, True),  # tab
    ("a\nb", False, True),  # line feed
    ("a\r\nb", False, True),  # carriage return
    ("a\u2028b", False, True),  # line separator
    ("a\x00b", False, False),  # NUL: PostgreSQL cannot store it
    ("\x1b[2J", False, False),  # an escape sequence would steer a terminal
    ("a\x7fb", False, False),  # DEL
    ("a\x85b", False, False),  # C1 NEL
    ("a\x9bb", False, False),  # C1 CSI
    ("a\ud800b", False, False),  # a lone high surrogate: not text
    ("a\udcffb", False, False),  # a byte that is not UTF-8 in argv
]


@pytest.mark.parametrize(("value", "one_line", "multi_line"), CASES)
def test_it_accepts_text_and_refuses_controls_and_lone_surrogates(
    value: str, one_line: bool, multi_line: bool
) -> None:
    assert (problem(value) is None) == one_line
    assert (problem(value, multiline=True) is None) == multi_line


def test_it_names_the_field_and_the_character_never_the_value() -> None:
    with pytest.raises(InvalidText) as caught:
        check_text("hunter2\x00", "body.options.pass")
    assert caught.value.message == (
        "body.options.pass holds the control character U+0000; it must be one line of text"
    )
    with pytest.raises(InvalidText, match=r"^query.q is not valid UTF-8 text \(.*U\+D800\)$"):
        check_text("x\ud800", "query.q")


def test_it_walks_json_keys_and_values_and_lets_argv_and_env_span_lines() -> None:
    check_tree({"params": {"argv": ["a\nb"], "env": {"K": "a\tb"}}}, "body")
    refused: list[tuple[Any, str]] = [
        ({"params": {"source": "a\nb"}}, "body.params.source "),
        ({"params": {"env": {"K\n": "v"}}}, "a key of body.params.env "),
        ({"params": {"argv": ["ok", "a\x00"]}}, "body.params.argv[1] "),
        ({"tags": ["\ud800"]}, "body.tags[0] "),
        ("bare\x1b", "body "),
    ]
    for value, where in refused:
        with pytest.raises(InvalidText) as caught:
            check_tree(value, "body")
        assert caught.value.message.startswith(where), value


def test_json_read_back_has_lone_surrogates_replaced_and_pairs_kept() -> None:
    stored = json.dumps({"\udfff": ["a\ud800", "📷"], "n": 1})  # as json.dumps writes it
    assert loads_repaired(stored) == {"\ufffd": ["a\ufffd", "📷"], "n": 1}
    assert loads_repaired(stored.encode()) == {"\ufffd": ["a\ufffd", "📷"], "n": 1}
    plain = '{"a": "b"}'
    assert loads_repaired(plain) == {"a": "b"}


def test_text_is_shown_with_controls_and_surrogates_escaped() -> None:
    assert shown("ok\ttab\nline é") == "ok\ttab\nline é"
    assert shown("\x1b[31mred\x07 \ud800 \x9b") == "\\x1b[31mred\\x07 \\ud800 \\x9b"
