"""Jobs: JobCreate, JobUpdate, JobPublic, JobsPublic, and running jobs on demand."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from synchub.services.jobs.fields import JobFields
from synchub.services.jobs.job_views import JobView, LastRun

Overlap = Literal["skip", "queue", "allow"]
Misfire = Literal["skip", "once", "all"]
#: seconds, or a duration as typed: 30s, 15m, 6h, 1d, 1h30m
Duration = StrictInt | str


def _text(value: Duration | None) -> str | None:
    return f"{value}s" if isinstance(value, int) else value


#: Fields read under an older name too: {name: old name}. Jobs are shown with the
#: names; the old ones are kept for the scripts that send them.
_OLD_NAMES = {"timeout_s": "timeout", "retry_delay_s": "retry_delay"}

_NEW_NAMES = {old: name for name, old in _OLD_NAMES.items()}

#: The fields an edit empties with null, and what stands for empty in JobFields:
#: no timeout, no depth limit, no marker, the default delete guard.
#: null keep_runs and keep_logs: the settings' defaults.
_CLEARED_BY_NULL: dict[str, Any] = {
    "timeout_s": "", "max_depth": -1, "require_marker": "", "delete_guard": "",
    "stale_after_s": "", "long_after_s": "", "hooks": {}, "after": [],
    "keep_runs": "", "keep_logs": "", "windows": [],
}  # fmt: skip


class JobSettings(BaseModel):
    """What both a new job and an edit may give; absent means default (new) or keep (edit)."""

    # The bodies are built at their first use: `job list` reading the database
    # imports this module for JobPublic alone.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: str | None = Field(default=None, examples=["rclone"])  #: rclone, command, a plug-in
    #: the kind's parameters; rclone: op, source, destination, filters, options
    params: dict[str, Any] | None = Field(
        default=None,
        examples=[{"op": "sync", "source": "laptop:/photos", "destination": "nas:/backup"}],
    )
    cron: str | None = Field(default=None, max_length=200, examples=["0 2 * * *"])
    tz: str | None = Field(default=None, max_length=64, examples=["Europe/Berlin"])
    every: Duration | None = Field(default=None, examples=["15m"])  #: a fixed interval
    retries: StrictInt | None = Field(default=None, ge=0, le=100)
    #: seconds before the first retry (or text: 60s, 5m); the name jobs are shown with
    retry_delay_s: Duration | None = Field(default=None, examples=[60])
    #: the old name of retry_delay_s, still read
    retry_delay: Duration | None = Field(default=None, json_schema_extra={"deprecated": True})
    #: seconds a run may take (or text: 2h); null, "none" or "" on an edit: no timeout
    timeout_s: Duration | None = Field(default=None, examples=[7200])
    #: the old name of timeout_s, still read
    timeout: Duration | None = Field(default=None, json_schema_extra={"deprecated": True})
    overlap: Overlap | None = None
    queue: str | None = Field(default=None, max_length=64)
    misfire: Misfire | None = None
    enabled: StrictBool | None = None
    tags: list[str] | None = None
    #: a watched folder: changes in the source start runs (op defaults to copy); without
    #: cron or every it is rescanned every SYNCHUB_WATCH_RESCAN seconds
    watch: StrictBool | None = None
    #: rclone's --max-depth (1: the top folder only); -1 removes the limit
    max_depth: StrictInt | None = Field(default=None, ge=-1, le=1_000_000)
    #: sync/bisync: stop a run that would delete more than this share ("50%", the
    #: default) or number of the destination's files; "off": no limit
    delete_guard: StrictInt | str | None = Field(default=None, examples=["50%", 100, "off"])
    #: a file (or folder) that must exist at the source root for a run to start;
    #: "" removes it
    require_marker: str | None = Field(default=None, max_length=255, examples=[".mounted"])
    #: bisync: rclone's access check, its RCLONE_TEST files at both roots (default true)
    check_access: StrictBool | None = None
    #: sync/copy: what runs delete or overwrite at the destination is moved into
    #: .synchub-trash/ there and pruned after this period (at least 1h); "off" stops
    keep_deleted: str | None = Field(default=None, max_length=32, examples=["30d", "off"])
    #: alert `stale` after this long without a success (seconds or text: 2d); null or
    #: "auto" on an edit: twice the schedule's interval plus an hour
    stale_after_s: Duration | None = Field(default=None, examples=["2d"])
    #: alert `long` for a run going longer (seconds or text: 3h); null or "auto" on an
    #: edit: 3 x the median of the job's last 20 successful runs
    long_after_s: Duration | None = Field(default=None, examples=["3h"])
    #: commands run around each run, by event (before, after, on_failure, finally):
    #: [{"command": ["/abs/program", "arg"], "timeout": "30s", "on_error": "fail"}];
    #: admin only, and only where command jobs are allowed. {} or null on an edit: none
    hooks: dict[str, list[dict[str, Any]]] | None = Field(
        default=None, examples=[{"before": [{"command": ["/usr/local/bin/mount-nas"]}]}]
    )
    #: run after these jobs' runs end: "JOB" (on success) or "JOB:success|failure|always";
    #: [] or null on an edit: after none
    after: list[str] | None = Field(default=None, max_length=100, examples=[["backup:success"]])
    #: which runs stay: a period ("30d") or a number of runs (500); "default" (or null
    #: on an edit): the server's rule (90 days or the last 100)
    keep_runs: StrictInt | str | None = Field(default=None, examples=["30d", 500])
    #: how long its runs' logs and change reports stay ("14d"); "default" (or null on
    #: an edit): the server's keep_logs_days
    keep_logs: str | None = Field(default=None, max_length=32, examples=["14d"])
    #: the hours its automatic runs may run, in its cron zone or the default one:
    #: "22:00-06:00", "Mon-Fri 22:00-06:00"; [] or null on an edit: at any hour
    windows: list[str] | None = Field(
        default=None, max_length=50, examples=[["Mon-Fri 22:00-06:00", "Sat,Sun 00:00-24:00"]]
    )

    @model_validator(mode="after")
    def _one_name_each(self) -> JobSettings:
        for name, old in _OLD_NAMES.items():
            if {name, old} <= self.model_fields_set:
                raise ValueError(f"give {name} or its old name {old}, not both")
        return self

    def given(self, name: str) -> Any:
        """The value given under `name` or under its old name."""
        old = _OLD_NAMES.get(name)
        return getattr(self, old) if old in self.model_fields_set else getattr(self, name)

    def fields(self, *, manual: bool = False) -> JobFields:
        return JobFields(
            kind=self.kind,
            params=self.params,
            cron=self.cron,
            tz=self.tz,
            every=_text(self.every),
            manual=manual,
            retries=self.retries,
            retry_delay=_text(self.given("retry_delay_s")),
            timeout=_text(self.given("timeout_s")),
            overlap=self.overlap,
            queue=self.queue,
            misfire=self.misfire,
            enabled=self.enabled,
            tags=self.tags,
            watch=self.watch,
            max_depth=self.max_depth,
            delete_guard=None if self.delete_guard is None else str(self.delete_guard),
            require_marker=self.require_marker,
            check_access=self.check_access,
            keep_deleted=self.keep_deleted,
            stale_after=_text(self.stale_after_s),
            long_after=_text(self.long_after_s),
            hooks=self.hooks,
            after=self.after,
            keep_runs=None if self.keep_runs is None else str(self.keep_runs),
            keep_logs=self.keep_logs,
            windows=self.windows,
        )


class JobCreate(JobSettings):
    name: str = Field(min_length=1, max_length=64, examples=["photos"])


class JobUpdate(JobSettings):
    """An edit: only what is given changes; params merge key by key; a new schedule
    counts from now."""

    manual: StrictBool = False  #: drop the schedule: manual runs only

    @model_validator(mode="after")
    def _manual_alone(self) -> JobUpdate:
        if self.manual and (self.cron is not None or self.every is not None):
            raise ValueError("give manual, or a new schedule, not both")
        return self

    def edit(self) -> JobFields:
        """The edit: null empties timeout_s, max_depth, require_marker, delete_guard,
        keep_runs and keep_logs (see _CLEARED_BY_NULL); elsewhere null, like a field
        left out, keeps the value."""
        spec = self.fields(manual=self.manual)
        given = {_NEW_NAMES.get(f, f) for f in self.model_fields_set}
        cleared: dict[str, Any] = {
            name: empty
            for name, empty in _CLEARED_BY_NULL.items()
            if name in given and self.given(name) is None
        }
        cleared["timeout"] = cleared.pop("timeout_s", None)
        cleared["stale_after"] = cleared.pop("stale_after_s", None)
        cleared["long_after"] = cleared.pop("long_after_s", None)
        return replace(spec, **{k: v for k, v in cleared.items() if v is not None})


class SchedulePublic(BaseModel):
    kind: Literal["none", "cron", "interval"]
    cron: str | None
    tz: str
    every_s: int | None
    anchor: datetime | None
    description: str  #: e.g. "At 02:00 (Europe/Berlin)"


class ChainLink(BaseModel):
    job: str  #: the other job
    on: Literal["success", "failure", "always"]  #: the upstream outcome that starts a run


class LastRunPublic(BaseModel):
    """A job's newest run that started or ended, in brief."""

    id: int
    state: str
    attempt: int
    dry_run: bool
    at: datetime  #: when it ended (started, while it runs)


class JobPublic(BaseModel):
    id: int
    name: str
    kind: str
    params: dict[str, Any]
    schedule: SchedulePublic
    misfire: str
    queue: str
    retries: int
    retry_delay_s: int
    timeout_s: int | None
    overlap: str
    enabled: bool
    tags: list[str]
    watch: bool = False  #: a watched folder
    max_depth: int | None = None  #: rclone's --max-depth, None: no limit
    #: why its folder is not watched now, e.g. "source folder /x does not exist"
    watch_problem: str | None = None
    #: sync/bisync: the delete guard ("50%", a number of files, "off"); None for other ops
    delete_guard: str | None = None
    require_marker: str | None = None  #: must exist at the source root for a run to start
    #: bisync: whether runs check access with RCLONE_TEST files; None for other ops
    check_access: bool | None = None
    #: sync/copy: how long deleted and overwritten files are kept ("30d"); None: not kept
    keep_deleted: str | None = None
    stale_after_s: int | None = None  #: alert `stale` after this long; null: derived
    long_after_s: int | None = None  #: alert `long` after this long; null: derived
    #: commands run around each run, by event; each {"command", "timeout_s", "on_error"}
    hooks: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    after: list[ChainLink] = Field(default_factory=list)  #: the jobs it runs after
    #: the jobs that run after it (their own `after`)
    chained_by: list[ChainLink] = Field(default_factory=list)
    #: its own rule for which runs stay ("30d", "500"); None: the server's
    keep_runs: str | None = None
    #: how long its runs' logs and change reports stay ("14d"); None: the server's
    keep_logs: str | None = None
    #: the hours its automatic runs may run ("22:00-06:00"); []: at any hour
    windows: list[str] = Field(default_factory=list)
    #: the zone `windows` are read in; None without windows
    windows_tz: str | None = None
    next_fire_at: datetime | None
    #: `job mute`: no alert is sent for the job until then; None when not muted
    muted_until: datetime | None = None
    created_at: datetime
    updated_at: datetime
    #: its newest run that started or ended; null: none yet
    last_run: LastRunPublic | None = None
    #: the next fire times (show only; empty for manual-only jobs)
    next_fires: list[datetime] | None = None

    @classmethod
    def of(
        cls, view: JobView, last_run: LastRun | None, next_fires: list[datetime] | None = None
    ) -> JobPublic:
        shown = view.as_dict() | {"last_run": last_run.as_dict() if last_run else None}
        if next_fires is not None:
            shown["next_fires"] = next_fires
        return cls.model_validate(shown)


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int  #: jobs in this page
    next_cursor: str | None  #: pass as `cursor` for the next page; null on the last


class MuteRequest(BaseModel):
    """Body of POST /jobs/{name}/mute."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    #: how long: seconds, or a duration with its unit ("2h", "1d")
    duration: Duration = Field(examples=["2h", 7200])


class RunRequest(BaseModel):
    """Optional body of POST /jobs/{name}/run."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    queue: str | None = Field(default=None, max_length=64)  #: instead of the job's own
    #: change nothing; the change report says what a real run would change
    dry_run: StrictBool = False
    #: let this run pass the job's delete guard and empty-source stop (audited)
    allow_deletes: StrictBool = False
    #: bisync jobs: rebuild bisync's listings (rclone's --resync; audited)
    resync: StrictBool = False


class RunManyRequest(BaseModel):
    """Run several jobs now, one run each: by names, or every job with a tag."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    names: list[str] | None = Field(default=None, min_length=1, max_length=1000)
    tag: str | None = Field(default=None, max_length=64)
    #: with `tag`: skip disabled jobs (named jobs always run)
    only_enabled: StrictBool = True
    queue: str | None = Field(default=None, max_length=64)  #: instead of the jobs' own

    @model_validator(mode="after")
    def _one_selector(self) -> RunManyRequest:
        if (self.names is None) == (self.tag is None):
            raise ValueError("give either names or tag")
        return self
