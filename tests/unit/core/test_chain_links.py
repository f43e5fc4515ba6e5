"""Job chains in the domain: links as typed, which ends start which links, and
cycles named along their path."""

from __future__ import annotations

import pytest

from synchub.core.chains import ChainOn, Link, choices_for, find_cycle, parse_link, parse_links
from synchub.core.errors import InvalidInput
from synchub.core.runs import RunState


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("backup", Link("backup", ChainOn.SUCCESS)),  # success unless said
        ("backup:failure", Link("backup", ChainOn.FAILURE)),
        (" backup:always ", Link("backup", ChainOn.ALWAYS)),
    ],
)
def test_it_reads_a_link(text: str, link: Link) -> None:
    assert parse_link(text) == link


@pytest.mark.parametrize("text", ["", ":success", "a b", "backup:", "backup:ok", "a:b:c"])
def test_it_refuses_a_bad_link_blaming_after(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_link(text)
    assert caught.value.field == "after"


def test_it_refuses_a_job_named_twice() -> None:
    with pytest.raises(InvalidInput, match="named twice"):
        parse_links(["a", "a:failure"])


@pytest.mark.parametrize(
    ("state", "choices"),
    [
        (RunState.SUCCEEDED, ["success", "always"]),
        (RunState.FAILED, ["failure", "always"]),
        (RunState.TIMED_OUT, ["failure", "always"]),
        (RunState.LOST, ["failure", "always"]),
        (RunState.CANCELLED, []),  # a person stopped it: no outcome of the work
        (RunState.SKIPPED, []),
    ],
)
def test_an_end_starts_the_links_that_asked_for_it(state: RunState, choices: list[str]) -> None:
    assert choices_for(state) == choices


def test_it_finds_no_cycle_in_a_diamond() -> None:
    # d runs after b and c, which both run after a.
    graph = {"b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert find_cycle("d", graph) is None


def test_it_names_a_cycle_along_its_path() -> None:
    graph = {"a": ["c"], "b": ["a"], "c": ["b"]}
    assert find_cycle("a", graph) == ["a", "c", "b", "a"]


def test_a_job_after_itself_is_a_cycle() -> None:
    assert find_cycle("a", {"a": ["a"]}) == ["a", "a"]


def test_a_cycle_elsewhere_is_not_this_jobs() -> None:
    graph = {"x": ["y"], "y": ["x"], "a": ["x"]}
    assert find_cycle("a", graph) is None
