"""`synchub alert`: where to tell people that a job failed or recovered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from synchub.cli import tables
from synchub.cli.shared import JsonOpt, emit, errors, fail, out, services
from synchub.cli.typer_app import typer_app

if TYPE_CHECKING:
    from synchub.services.alerts import AlertView

alert_app = typer_app(
    help="Alerts: messages (e-mail, chat, webhooks, via Apprise) when a job fails, recovers, "
    "goes stale or runs long.",
)

EVENTS = "failure, recovery, stale, long, missed, watch"


@alert_app.command("add")
def alert_add(
    name: str,
    url: Annotated[
        str,
        typer.Argument(
            help="An Apprise URL, e.g. mailto://user:pass@example.com, ntfy://topic, "
            "json://host/path. Kept sealed: it may hold credentials."
        ),
    ],
    on: Annotated[
        list[str] | None,
        typer.Option(
            "--on", help=f"Events, comma-separated: {EVENTS} (default failure,recovery,stale)."
        ),
    ] = None,
    job: Annotated[
        list[str] | None, typer.Option("--job", help="Only this job (repeat for more).")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only jobs with this tag (repeat).")
    ] = None,
    after: Annotated[
        int, typer.Option("--after", help="Tell after this many failed runs in a row.")
    ] = 1,
    digest_at: Annotated[
        str | None,
        typer.Option(
            "--digest-at",
            help="With --on digest: the daily digest's time, HH:MM in the default zone "
            "(default 08:00).",
        ),
    ] = None,
) -> None:
    """Add an alert. A failure is told once, when a run's last retry has failed (not
    per attempt, not again while the job keeps failing); its recovery once, at the
    next success. Without --job or --tag it covers every job."""
    from synchub.services.alerts import AlertFields

    with services() as svc:
        view = svc.alerts.add(name, AlertFields(url, on, job, tag, after, digest_at))
    out.print(f"added alert [bold]{name}[/]: ", end="")
    out.print(_summary(view), markup=False)
    out.print(f"try it: synchub alert test {name}", markup=False)


@alert_app.command("edit")
def alert_edit(
    name: str,
    url: Annotated[
        str | None, typer.Option("--url", help="A new Apprise URL (kept sealed).")
    ] = None,
    on: Annotated[
        list[str] | None,
        typer.Option("--on", help=f"Events, comma-separated, replacing the alert's: {EVENTS}."),
    ] = None,
    job: Annotated[
        list[str] | None, typer.Option("--job", help="Only this job (repeat); replaces the list.")
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Only jobs with this tag (repeat); replaces the list."),
    ] = None,
    after: Annotated[
        int | None, typer.Option("--after", help="Tell after this many failed runs in a row.")
    ] = None,
    clear: Annotated[
        list[str] | None,
        typer.Option("--clear", help="Empty a list: jobs or tags (repeat).", metavar="LIST"),
    ] = None,
    digest_at: Annotated[
        str | None,
        typer.Option(
            "--digest-at",
            help="With --on digest: the daily digest's time, HH:MM in the default zone "
            "(default 08:00).",
        ),
    ] = None,
) -> None:
    """Change an alert; what is not given stays. Bad input changes nothing."""
    with errors():
        changes = _changes(url, on, job, tag, after, clear, digest_at)
    with services() as svc:
        view = svc.alerts.edit(name, changes)
    out.print(f"changed alert [bold]{name}[/]: ", end="")
    out.print(_summary(view), markup=False)


@alert_app.command("list")
def alert_list(as_json: JsonOpt = False) -> None:
    """List alerts with their last delivery result."""
    with services() as svc:
        views = svc.alerts.list()
        now = svc.clock.now()
    if as_json:
        emit([v.as_dict() for v in views])
        return
    layout = tables.stdout_layout(now)
    rows = [
        [
            v.name,
            v.url,
            ",".join(v.events),
            _covers(v),
            str(v.after),
            v.last_result or "-",
            layout.when(v.last_sent_at),
            str(v.waiting),
        ]
        for v in views
    ]
    tables.print_table(ALERT_COLUMNS, rows, layout)


ALERT_COLUMNS = (
    tables.Column("name", tables.Fit.END),
    tables.Column("url", tables.Fit.END, least=10),
    tables.Column("events", tables.Fit.END),
    tables.Column("covers", tables.Fit.END),
    tables.Column("after"),
    tables.Column("last result", tables.Fit.END, weight=2),
    tables.Column("sent"),
    tables.Column("waiting"),
)


@alert_app.command("show")
def alert_show(name: str, as_json: JsonOpt = False) -> None:
    """Show an alert (its URL masked) and its last delivery."""
    with services() as svc:
        view = svc.alerts.show(name)
    if as_json:
        emit(view.as_dict())
        return
    out.print(f"[bold]{name}[/]: ", end="")
    out.print(_summary(view), markup=False)
    last = view.last_result or "nothing sent yet"
    when = f" at {view.last_sent_at}" if view.last_sent_at else ""
    out.print(f"  last delivery: {last}{when}; waiting: {view.waiting}", markup=False)


@alert_app.command("test")
def alert_test(name: str) -> None:
    """Send a test message now; exit 1 when it is not delivered."""
    with services() as svc:
        tested = svc.alerts.test(name)
    if not tested.delivered:
        fail(f"alert {name}: {tested.message}", 1)
    out.print(f"alert {name}: test message delivered", markup=False)


@alert_app.command("remove")
def alert_remove(name: str) -> None:
    """Remove an alert and the messages it has not delivered."""
    with services() as svc:
        svc.alerts.remove(name)
    out.print(f"removed alert [bold]{name}[/]")


def _changes(
    url: str | None,
    on: list[str] | None,
    jobs: list[str] | None,
    tags: list[str] | None,
    after: int | None,
    clear: list[str] | None,
    digest_at: str | None = None,
) -> Any:
    """The edit the options ask for; InvalidInput for none, or a list both cleared and
    given."""
    from synchub.core.errors import InvalidInput
    from synchub.services.alerts import AlertChanges

    lists = {"jobs": jobs, "tags": tags}
    for cleared in clear or []:
        if cleared not in lists:
            raise InvalidInput(f"Bad --clear {cleared!r}: use jobs, tags")
        if lists[cleared]:
            raise InvalidInput(f"Give --clear {cleared} or new {cleared}, not both")
        lists[cleared] = []
    changes = AlertChanges(url, on, lists["jobs"], lists["tags"], after, digest_at)
    if changes == AlertChanges():
        raise InvalidInput(
            "Nothing to change: give --url, --on, --job, --tag, --after, --digest-at or --clear"
        )
    return changes


def _covers(view: AlertView) -> str:
    parts = [*view.jobs, *(f"tag:{t}" for t in view.tags)]
    return ", ".join(parts) or "every job"


def _summary(view: AlertView) -> str:
    after = f" after {view.after} failed runs in a row" if view.after > 1 else ""
    digest = f", digest daily at {view.digest_at}" if "digest" in view.events else ""
    return f"{', '.join(view.events)} of {_covers(view)} to {view.url}{after}{digest}"
