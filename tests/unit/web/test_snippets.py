"""The console's snippets: a path keeps its whole text in a title only when cut, and
what they write of user data is escaped."""

from __future__ import annotations

from synchub.web.snippets import short_path


def test_a_path_shown_whole_has_no_title_and_a_cut_one_has_it_whole() -> None:
    assert short_path("/srv/a", 32) == '<span class="path">/srv/a</span>'
    long = "/srv/" + "x" * 40 + "/end"
    assert short_path(long, 20) == (
        f'<span class="path" title="{long}">/srv/xxxx…xxxxxx/end</span>'
    )


def test_a_path_is_escaped() -> None:
    assert short_path("<b>&", 32) == '<span class="path">&lt;b&gt;&amp;</span>'
