"""The console's snippets: a path keeps its whole text in a title only when cut."""

from __future__ import annotations

from synchub.web.snippets import path


def test_a_path_shown_whole_has_no_title_and_a_cut_one_has_it_whole() -> None:
    assert path("/srv/a", 32) == '<span class="path">/srv/a</span>'
    long = "/srv/" + "x" * 40 + "/end"
    assert path(long, 20) == (f'<span class="path" title="{long}">/srv/xxxx…xxxxxx/end</span>')
