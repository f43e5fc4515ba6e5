"""How the console writes figures and times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from synchub.web import format as fmt
from synchub.web import snippets
from synchub.web.console import safe_next

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("n", "text"),
    [(None, "—"), (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1288490189, "1.2 GiB"),
     (150 * 1024**2, "150 MiB")],
)  # fmt: skip
def test_sizes_are_binary(n: int | None, text: str) -> None:
    assert fmt.size(n) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0s"), (0.4, "0.4s"), (12, "12s"), (252, "4m 12s"), (3600, "1h"),
     (7500, "2h 5m"), (90061, "1d 1h")],
)  # fmt: skip
def test_durations_keep_two_units(seconds: float | None, text: str) -> None:
    assert fmt.duration(seconds) == text


def test_times_are_relative_with_the_exact_instant_in_a_zone() -> None:
    assert fmt.relative(NOW - timedelta(hours=6, minutes=5), NOW) == "6 h ago"
    assert fmt.relative((NOW + timedelta(hours=18)).isoformat(), NOW) == "in 18 h"
    assert fmt.relative(None, NOW) == "never"
    assert fmt.exact(NOW, "Europe/Berlin") == "2025-06-02 11:00:00 CEST"
    assert fmt.soon(NOW + timedelta(days=1), NOW, "Europe/Berlin") == "Tue 11:00 CEST"
    assert fmt.soon(NOW + timedelta(days=30), NOW) == "2025-07-02 09:00 UTC"


def test_long_paths_are_cut_in_the_middle() -> None:
    path = "photos/2024/holidays/" + "x" * 60 + "/IMG_0001.jpg"
    cut = fmt.middle(path, 32)
    assert len(cut) == 32 and cut.startswith("photos/2024/") and cut.endswith("IMG_0001.jpg")
    assert fmt.middle("short") == "short"


def test_a_path_is_written_escaped_cut_and_whole_on_hover() -> None:
    path = "in/<b>&" + "x" * 60 + '/"a".jpg'
    html = snippets.path(path, 32)
    assert html.startswith('<span class="path" title="in/&lt;b&gt;&amp;xxx')
    assert html.endswith("x/&#34;a&#34;.jpg</span>") and "…" in html
    assert snippets.path("<i>") == '<span class="path">&lt;i&gt;</span>'  # whole: no title


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/jobs?q=a", "/jobs?q=a"), ("/", "/"), (None, "/"), ("", "/"), ("//evil.example", "/"),
     ("/\\evil.example", "/"), ("https://evil.example/x", "/"), ("jobs", "/"),
     ("/a\r\nSet-Cookie: x", "/"), ("/\tx", "/"), ("http:/x", "/")],
)  # fmt: skip
def test_only_local_paths_are_followed_after_sign_in(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe
