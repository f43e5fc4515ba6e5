"""Job chains: a job asks for a run when another job's retry chain ends.

A link is the downstream job's own setting (`--after JOB[:success|failure|always]`);
the upstream job stores nothing, so removing or renaming links never needs to touch
it (Dkron kept child lists on parents, and they drifted: dkron 279, 388, 499).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from synchub.core.errors import InvalidInput
from synchub.core.names import is_name
from synchub.core.runs import RETRYABLE, RunState


class ChainOn(StrEnum):
    SUCCESS = "success"  #: the upstream run succeeded
    FAILURE = "failure"  #: it failed, timed out or was lost, and no retry follows
    ALWAYS = "always"  #: either of those


#: The upstream final states each choice follows. A cancelled or skipped run ends
#: no chain: a person or the overlap policy stopped it, the work did not end.
FOLLOWS: dict[ChainOn, frozenset[RunState]] = {
    ChainOn.SUCCESS: frozenset({RunState.SUCCEEDED}),
    ChainOn.FAILURE: RETRYABLE,
    ChainOn.ALWAYS: RETRYABLE | {RunState.SUCCEEDED},
}


def choices_for(state: RunState) -> list[str]:
    """The `ChainOn` values that a final run in `state` triggers."""
    return [on.value for on, states in FOLLOWS.items() if state in states]


@dataclass(frozen=True)
class Link:
    """This job runs after `upstream` ends `on` that outcome."""

    upstream: str  #: the upstream job's name
    on: ChainOn = ChainOn.SUCCESS

    def text(self) -> str:
        return f"{self.upstream}:{self.on.value}"


def parse_link(text: str) -> Link:
    """`JOB` or `JOB:success|failure|always` as a Link; InvalidInput naming the part."""
    name, colon, on = text.strip().partition(":")
    if not is_name(name) or (colon and not on):
        raise InvalidInput(
            f"Bad after {text!r}: give JOB or JOB:success|failure|always", field="after"
        )
    try:
        return Link(name, ChainOn(on or ChainOn.SUCCESS.value))
    except ValueError:
        raise InvalidInput(
            f"Bad after {text!r}: {on!r} is not success, failure or always", field="after"
        ) from None


def parse_links(texts: Iterable[str]) -> list[Link]:
    """Links from their texts, without repeats; one job named twice is refused."""
    links: list[Link] = []
    for text in texts:
        link = parse_link(text)
        if any(seen.upstream == link.upstream for seen in links):
            raise InvalidInput(
                f"Bad --after: job {link.upstream!r} is named twice; use one outcome "
                "(always covers success and failure)",
                field="after",
            )
        links.append(link)
    return links


def find_cycle(job: str, upstreams: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle through `job` in the graph "job -> the jobs it runs after", as the
    names along it (first and last `job`), or None. `upstreams` holds every job's
    links, `job`'s new ones included."""
    path: list[str] = [job]
    seen: set[str] = set()

    def walk(name: str) -> list[str] | None:
        for up in sorted(upstreams.get(name, ())):
            if up == job:
                return [*path, job]
            if up in seen:
                continue
            seen.add(up)
            path.append(up)
            found = walk(up)
            if found:
                return found
            path.pop()
        return None

    return walk(job)


def describe_cycle(cycle: list[str]) -> str:
    """The cycle as people read it: "a runs after b, which runs after a"."""
    return " -> ".join(cycle)
