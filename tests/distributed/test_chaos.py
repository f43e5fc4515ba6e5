"""Chaos: trial after trial, a fault at a random point while runs come and go, on a real
distributed synchub (PostgreSQL, Redis or RabbitMQ, two `synchub worker` processes and
two `synchub scheduler` processes, every broker connection through a `TcpProxy`).

The faults, one per trial, in a shuffled rotation:

1. `duplicate_and_kill`: a run's message is published again (as a broker redelivers),
   then a worker is killed with -9 just after an execution started on it, and that
   execution's message is published again too; a new worker is started.
2. `kill_mid_run`: a worker is killed with -9 part-way through an execution; its pool
   processes and the execution's child process must die with it (checked in /proc),
   and its run must end `lost` and be retried on another worker.
3. `broker_cut`: every broker connection is cut for 1-3 s; in some trials the queue is
   also purged meanwhile, as a broker restarted without persistence would lose it.
4. `scheduler_failover`: the leading scheduler is killed with -9 and a new one started;
   the other one must take the lead when the lease lapses.

About a third of the trials also get an extra duplicate of a random run's message.

It should hold, after every trial and once more over the whole history:

- every run is terminal;
- no run executed twice: at most one start mark per run id (an execution killed
  half-way leaves a start mark and no end mark: see `tests/support/chaos_kind.py`);
- a succeeded run has exactly one finished execution;
- nothing is lost: every requested run has a succeeded run at the end of its retry chain;
- a job whose overlap policy is `queue` never had two executions at once;
- no execution's child process outlives its run.

The seed is printed and written to the report; replay a failure's fault schedule with
SYNCHUB_CHAOS_SEED=<seed> (timing on the machine cannot be replayed, the plan can).
SYNCHUB_CHAOS_TRIALS sets the number of trials per broker (default 20, CI's short run:
each fault at least five times);
SYNCHUB_CHAOS_REPORT names a file to which each broker's summary is appended as JSON
(every trial's plan and details go to a file next to it). docs/reliability.md has the
results and the limits found.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy import select

from synchub.core.runs import RETRYABLE, TERMINAL, RunState
from synchub.execution.celery_exec import CeleryExecutor
from synchub.processes.worker import make_app
from synchub.services.jobs.fields import JobFields
from synchub.store.db import reading
from synchub.store.tables import RunRow
from tests.distributed.conftest import REPO, Cluster, Worker, through, wait_for
from tests.support.chaos_kind import CHILD_ENV, ChaosKind, Execution, read_ledger
from tests.support.plugin import write_plugin
from tests.support.proxy import TcpProxy

# One chaos test at a time, each on a machine otherwise running only the rest of the suite.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chaos")]

TRIALS = int(os.environ.get("SYNCHUB_CHAOS_TRIALS") or 20)
SEED = int(os.environ.get("SYNCHUB_CHAOS_SEED") or random.SystemRandom().randrange(2**32))
REPORT = os.environ.get("SYNCHUB_CHAOS_REPORT", "")

FAULTS = ("duplicate_and_kill", "kill_mid_run", "broker_cut", "scheduler_failover")
RETRIES = 5
#: seconds of the leases and waits, short so that a trial takes seconds, not minutes
RUN_LEASE, SCHEDULER_LEASE, REQUEUE_AFTER, POLL = "2", "2", "2", "0.2"
#: how long one trial's runs may take to settle after its fault
SETTLE_S = 60.0


@dataclass(frozen=True)
class JobPlan:
    seconds: float  #: how long an execution lasts
    overlap: str  #: the job's overlap policy
    child: bool  #: the execution keeps a child process (as rclone would be)


JOBS: dict[str, JobPlan] = {
    "tiny": JobPlan(0.2, "queue", False),
    "short": JobPlan(0.5, "queue", True),
    "medium": JobPlan(1.0, "queue", False),
    "long": JobPlan(1.5, "queue", True),
    "parallel": JobPlan(0.8, "allow", True),
}
#: jobs long enough to be killed part-way with some confidence
KILLABLE = ("medium", "long", "parallel")


@dataclass(frozen=True)
class Run:
    """A run as the database has it, at one moment."""

    id: int
    job: str
    state: str
    attempt: int
    retry_of: int | None
    worker: str | None
    error_class: str | None
    finished_at: float | None  #: epoch seconds


@dataclass
class Trial:
    number: int
    fault: str
    plan: dict[str, Any]
    runs: list[int] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    result: str = "not run"


# -- processes ------------------------------------------------------------------------


class SchedulerProcess:
    """One `synchub scheduler` process; its output goes to `log`."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "synchub", "scheduler"],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state letter, start time in ticks) of `pid`, None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and ")"
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0], int(fields[19])


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, start time) of every live process below `pid`."""
    children: dict[int, list[tuple[int, int]]] = {}
    for p in _all_pids():
        if (st := _stat(p)) is not None:
            children.setdefault(st[0], []).append((p, st[2]))
    found: list[tuple[int, int]] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def alive(pid: int, start: int) -> bool:
    """True while the process `pid` started at `start` runs (a zombie is dead)."""
    st = _stat(pid)
    return st is not None and st[2] == start and st[1] not in ("Z", "X")


def chaos_children() -> dict[int, int]:
    """Live child processes of chaos executions: pid -> run id."""
    found = {}
    marker = f"{CHILD_ENV}=".encode()
    for p in _all_pids():
        try:
            env = Path(f"/proc/{p}/environ").read_bytes()
        except OSError:
            continue
        for var in env.split(b"\0"):
            if var.startswith(marker) and (st := _stat(p)) is not None and st[1] not in "ZX":
                found[p] = int(var[len(marker) :])
    return found


# -- the chaos harness ----------------------------------------------------------------


class Chaos:
    """Two workers and two schedulers on one cluster, and the faults done to them."""

    def __init__(self, cluster: Cluster, proxy: TcpProxy, real_broker: str,
                 rng: random.Random) -> None:  # fmt: skip
        self.c = cluster
        self.proxy = proxy
        self.real_broker = real_broker
        self.rng = rng
        self.marks = cluster.tmp / "chaos-marks"
        self.marks.mkdir()
        cluster.env["SYNCHUB_RUN_LEASE"] = RUN_LEASE
        self.scheduler_env = {
            **cluster.env,
            "SYNCHUB_SCHEDULER_LEASE": SCHEDULER_LEASE,
            "SYNCHUB_POLL_INTERVAL": POLL,
            "SYNCHUB_REQUEUE_AFTER": REQUEUE_AFTER,
        }
        self.schedulers: list[SchedulerProcess] = []
        self.ready: set[int] = set()  # pids of workers seen ready
        self.executor = CeleryExecutor(make_app(cluster.settings))
        self.job_of: dict[int, str] = {}
        self.requested: list[int] = []
        self.counts: Counter[str] = Counter()
        self.takeovers: list[float] = []

    # setting up

    def add_jobs(self) -> None:
        for name, job in JOBS.items():
            params = {"marks": str(self.marks), "seconds": job.seconds, "child": job.child}
            spec = JobFields(kind="chaos", params=params, queue=self.c.queue, retries=RETRIES,
                             retry_delay="1s", overlap=job.overlap)  # fmt: skip
            self.c.svc.jobs.add(name, spec)

    def start_worker(self) -> Worker:
        return self.c.worker("--concurrency", "2", ready=False)

    def start_scheduler(self) -> SchedulerProcess:
        log = self.c.tmp / f"scheduler-{len(self.schedulers)}.log"
        scheduler = SchedulerProcess(self.scheduler_env, log)
        self.schedulers.append(scheduler)
        return scheduler

    def live_workers(self) -> list[Worker]:
        return [w for w in self.c.workers if w.proc.poll() is None]

    def full_strength(self) -> None:
        """Two workers ready and two schedulers alive, whatever the last fault killed."""
        while len(self.live_workers()) < 2:
            self.start_worker()
        while sum(s.alive() for s in self.schedulers) < 2:
            self.start_scheduler()
        for worker in self.live_workers():
            if worker.pid not in self.ready:
                worker.wait_ready()
                self.ready.add(worker.pid)
        wait_for("a live scheduler to lead", lambda: self.live_leader() is not None, 30)

    def close(self) -> None:
        for scheduler in self.schedulers:
            scheduler.stop()

    # reading the truth

    def runs(self) -> dict[int, Run]:
        with reading(self.c.svc.sessions) as session:
            return {r.id: _snapshot(r) for r in session.scalars(select(RunRow))}

    def live_leader(self) -> SchedulerProcess | None:
        status = self.c.svc.runs.scheduler_status()
        if not status.leader or not status.leader_alive:
            return None
        pid = int(status.leader.split(":")[1])
        return next((s for s in self.schedulers if s.pid == pid and s.alive()), None)

    def worker_of(self, pool_pid: int) -> Worker | None:
        """The live worker whose pool process `pool_pid` is."""
        st = _stat(pool_pid)
        parent = None if st is None else st[0]
        return next((w for w in self.live_workers() if w.pid == parent), None)

    def wait_start(self, run_ids: list[int], *, jobs: tuple[str, ...] | None = None,
                   timeout: float = 30) -> Execution:  # fmt: skip
        """The first execution of one of `run_ids` (of `jobs`) still going on a live worker."""
        wanted = {r for r in run_ids if jobs is None or self.job_of[r] in jobs}

        def started() -> Execution | None:
            for execution in read_ledger(self.marks).all():
                if (
                    execution.run_id in wanted
                    and execution.end is None
                    and self.worker_of(execution.pid) is not None
                ):
                    return execution
            return None

        execution: Execution = wait_for(f"an execution of {sorted(wanted)} to start", started,
                                        timeout)  # fmt: skip
        return execution

    # the faults

    def duplicate(self, run_id: int) -> None:
        """Publish run `run_id`'s message again, as a broker redelivering would."""
        try:
            self.executor.submit(run_id, self.c.queue)
            self.counts["duplicates_published"] += 1
        except Exception:  # the broker may be cut off right now: then nothing was sent
            self.counts["duplicates_refused"] += 1

    def kill_worker(self, worker: Worker) -> list[tuple[int, int]]:
        """Kill `worker` with -9; return its processes as they were just before."""
        family = descendants(worker.pid)
        os.kill(worker.pid, signal.SIGKILL)
        worker.proc.wait()
        self.counts["workers_killed"] += 1
        return family

    def request(self, trial: Trial) -> None:
        for name in trial.plan["jobs"]:
            run_id = self.c.run(name)
            self.job_of[run_id] = name
            trial.runs.append(run_id)
            self.requested.append(run_id)

    def duplicate_and_kill(self, trial: Trial) -> None:
        plan = trial.plan
        time.sleep(plan["delay"])
        self.duplicate(trial.runs[plan["first_duplicate"] % len(trial.runs)])
        execution = self.wait_start(trial.runs)
        self.duplicate(execution.run_id)
        time.sleep(plan["after_start"])
        victim = self.worker_of(execution.pid)
        assert victim is not None, "the worker vanished by itself"
        age = time.time() - execution.start
        self.kill_worker(victim)
        self.start_worker()
        trial.details = {"run": execution.run_id, "worker_pid": victim.pid,
                         "killed_after_start_s": round(age, 3)}  # fmt: skip

    def kill_mid_run(self, trial: Trial) -> None:
        plan = trial.plan
        execution = self.wait_start(trial.runs, jobs=KILLABLE)
        job = JOBS[self.job_of[execution.run_id]]
        time.sleep(max(0.0, execution.start + plan["fraction"] * job.seconds - time.time()))
        victim = self.worker_of(execution.pid)
        assert victim is not None, "the worker vanished by itself"
        family = self.kill_worker(victim)
        # It should leave nothing behind: its pool processes and their children die too.
        wait_for(
            f"the processes of killed worker {victim.pid} to die: {family}",
            lambda: not any(alive(*p) for p in family),
            10,
        )
        self.start_worker()
        ended = next(e for e in read_ledger(self.marks).of(execution.run_id)
                     if e.pid == execution.pid).end is not None  # fmt: skip
        trial.details = {"run": execution.run_id, "worker_pid": victim.pid,
                         "processes_killed": len(family), "ended_before_kill": ended,
                         "pool_pids": [p for p, _ in family]}  # fmt: skip

    def broker_cut(self, trial: Trial) -> None:
        plan = trial.plan
        time.sleep(plan["delay"])
        self.proxy.cut()
        cut_at = time.monotonic()
        purged = None
        try:
            if plan["purge"]:
                # What a broker restarted without persistence forgets: the waiting messages.
                with Connection(self.real_broker, connect_timeout=5) as conn:
                    channel = conn.channel()
                    try:
                        purged = channel.queue_purge(self.c.queue)
                    finally:
                        channel.close()
            time.sleep(max(0.0, cut_at + plan["outage"] - time.monotonic()))
        finally:
            self.proxy.restore()
        trial.details = {"outage_s": round(plan["outage"], 2), "purged": purged}

    def scheduler_failover(self, trial: Trial) -> None:
        time.sleep(trial.plan["delay"])
        leader = wait_for("a live leader", self.live_leader, 30)
        leader.kill()
        killed_at = time.monotonic()
        self.start_scheduler()
        # It should hand the lead to another scheduler once the lease lapses.
        successor = wait_for("another scheduler to take the lead", self.live_leader, 30)
        takeover = time.monotonic() - killed_at
        self.takeovers.append(takeover)
        trial.details = {"killed_pid": leader.pid, "new_leader_pid": successor.pid,
                         "takeover_s": round(takeover, 2)}  # fmt: skip

    # one trial

    def plan(self, number: int, fault: str) -> Trial:
        """Draw every random choice of a trial up front, so a seed replays the plan."""
        rng = self.rng
        jobs = [rng.choice(list(JOBS)) for _ in range(rng.randint(2, 3))]
        if fault == "kill_mid_run":
            jobs[0] = rng.choice(KILLABLE)
        purge = rng.random() < 0.35
        if fault == "broker_cut" and purge:
            # More runs than the workers' four slots, so that messages wait on the broker.
            jobs += ["parallel"] * 3
        plan: dict[str, Any] = {
            "jobs": jobs,
            "delay": rng.uniform(0, 0.6),
            "first_duplicate": rng.randrange(4),
            "after_start": rng.uniform(0, 0.3),
            "fraction": rng.uniform(0.15, 0.85),
            "outage": rng.uniform(1, 3),
            "purge": purge,
            "extra_duplicate": rng.random() < 0.3,
            "extra_target": rng.randrange(4),
            "extra_delay": rng.uniform(0, 1.5),
        }
        return Trial(number, fault, plan)

    def run_trial(self, trial: Trial) -> None:
        started = time.monotonic()
        self.full_strength()
        self.request(trial)
        getattr(self, trial.fault)(trial)
        if trial.plan["extra_duplicate"]:
            time.sleep(trial.plan["extra_delay"])
            target = trial.runs[trial.plan["extra_target"] % len(trial.runs)]
            self.duplicate(target)
            trial.details["extra_duplicate_of"] = target
        self.settle(trial.runs)
        self.check(trial)
        if trial.fault in ("duplicate_and_kill", "kill_mid_run"):
            self.check_killed(trial)
        trial.seconds = round(time.monotonic() - started, 2)
        trial.result = "ok"

    def settle(self, requested: list[int], timeout: float = SETTLE_S) -> None:
        """Wait until each requested run's retry chain ends in success; fail at once
        when one ends in a state nothing will retry."""

        def settled() -> bool:
            runs = self.runs()
            for run_id in requested:
                tail = chain(runs, run_id)[-1]
                if tail.state in RETRYABLE and tail.attempt > RETRIES:
                    pytest.fail(f"run {run_id} was lost for good: {chain(runs, run_id)}")
                if tail.state != RunState.SUCCEEDED:
                    return False
            return True

        wait_for(f"the runs {requested} to settle", settled, timeout)

    def check(self, trial: Trial | None = None) -> None:
        """The promises, over `trial`'s runs and their retries, or over every run."""
        runs = self.runs()
        ledger = read_ledger(self.marks)
        requested = trial.runs if trial is not None else self.requested
        ids = {r.id for run_id in requested for r in chain(runs, run_id)}
        if trial is None:
            ids = set(runs)
        # It should leave every run terminal.
        unfinished = {i: runs[i].state for i in ids if RunState(runs[i].state) not in TERMINAL}
        assert not unfinished, f"runs not terminal: {unfinished}"
        # It should execute no run twice, and a succeeded one exactly once, to its end.
        for run_id in sorted(ids):
            run, executions = runs[run_id], ledger.of(run_id)
            assert len(executions) <= 1, f"run {run_id} executed twice: {executions}"
            if run.state == RunState.SUCCEEDED:
                assert len(executions) == 1 and executions[0].finished, (run, executions)
            # A lost run's execution may have been killed (a start mark, no end) or may
            # have lived on after the reaper gave up on it (both counted in the tally):
            # either way its retry is another run, checked below for overlap with it.
        # It should lose nothing: each requested run's chain ends in success.
        for run_id in requested:
            assert chain(runs, run_id)[-1].state == RunState.SUCCEEDED, chain(runs, run_id)
        # It should never run two executions of a `queue` job at once.
        for name, job in JOBS.items():
            if job.overlap == "queue":
                spans = sorted(
                    (e.start, e.end if e.end is not None else runs[e.run_id].finished_at, e.run_id)
                    for e in ledger.all()
                    if e.run_id in ids and runs[e.run_id].job == name
                )
                for (_, end, a), (start, _, b) in itertools.pairwise(spans):
                    assert end is not None and end <= start, (
                        f"job {name}: runs {a} and {b} overlapped: {spans}"
                    )
        # It should leave no child process of an ended run.
        wait_for(
            "the children of ended runs to go",
            lambda: not [r for r in chaos_children().values() if r in ids],
            10,
        )

    def check_killed(self, trial: Trial) -> None:
        """The run whose worker was killed under it ended lost and was retried elsewhere."""
        runs = self.runs()
        victim = trial.details["run"]
        executions = read_ledger(self.marks).of(victim)
        if executions and executions[0].end is not None:
            return  # it ended before the kill
        # It should end the run as lost, and retry it on a worker that lives.
        run = runs[victim]
        assert (run.state, run.error_class) == ("lost", "lost"), run
        retry = chain(runs, victim)[1]
        dead = {executions[0].pid} if executions else set()
        assert retry.worker is not None and int(retry.worker.split(":")[1]) not in dead, retry
        trial.details["retried_by"] = retry.worker

    def tally(self) -> dict[str, Any]:
        runs = self.runs()
        ledger = read_ledger(self.marks)
        states = Counter(r.state for r in runs.values())
        gone = sum(w.output().count("'gone'") for w in self.c.workers)
        # Lost runs whose execution has an end mark: killed after the work was done but
        # before the outcome was written ("done"), or reaped while the worker lived on and
        # then told to stop by its runner ("stopped").
        late = {
            r.id: e.end_reason
            for r in runs.values()
            if r.state == RunState.LOST
            for e in ledger.of(r.id)
            if e.end is not None
        }
        return {
            "runs": len(runs),
            "requested": len(self.requested),
            "retries": sum(1 for r in runs.values() if r.retry_of is not None),
            **{f"state_{k}": v for k, v in sorted(states.items())},
            "killed_executions": sum(1 for e in ledger.all() if e.end is None),
            "lost_after_work_done": sorted(i for i, why in late.items() if why == "done"),
            "lost_then_stopped": sorted(i for i, why in late.items() if why == "stopped"),
            "second_deliveries_ignored": gone,
            **self.counts,
        }

    def diagnostics(self) -> str:
        runs = self.runs()
        recent = sorted(runs.values(), key=lambda r: r.id)[-15:]
        logs = [w.log for w in self.c.workers[-3:]] + [s.log for s in self.schedulers[-3:]]
        tails = "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            for log in logs
        )
        return (
            f"scheduler status: {self.c.svc.runs.scheduler_status()}\n"
            f"recent runs:\n" + "\n".join(map(str, recent)) + f"\n{tails}"
        )


def chain(runs: dict[int, Run], run_id: int) -> list[Run]:
    """Run `run_id` and the retries that followed it, in order."""
    retry_of = {r.retry_of: r for r in runs.values() if r.retry_of is not None}
    found = [runs[run_id]]
    while found[-1].id in retry_of:
        found.append(retry_of[found[-1].id])
    return found


def _snapshot(row: RunRow) -> Run:
    finished = None if row.finished_at is None else row.finished_at.timestamp()
    return Run(row.id, row.job_name, row.state, row.attempt, row.retry_of, row.worker,
               row.error_class, finished)  # fmt: skip


# -- fixtures and the test ------------------------------------------------------------


@pytest.fixture
def chaos(tmp_path: Path, pg_url: str, broker: str, proxy: TcpProxy) -> Iterator[Chaos]:
    cluster = Cluster(tmp_path, pg_url, through(broker, proxy))
    write_plugin(tmp_path / "site", "chaos_kind", "tests.support.chaos_kind:ChaosKind", "chaos")
    cluster.svc.engines["chaos"] = ChaosKind()
    harness = Chaos(cluster, proxy, broker, random.Random(SEED))
    try:
        yield harness
    finally:
        proxy.restore()
        harness.close()
        cluster.close()


def _rotation(rng: random.Random, trials: int) -> list[str]:
    """`trials` faults: each kind as often as the others, in a shuffled order."""
    faults: list[str] = []
    while len(faults) < trials:
        batch = list(FAULTS)
        rng.shuffle(batch)
        faults.extend(batch)
    return faults[:trials]


@pytest.mark.timeout(180 + 15 * TRIALS)
def test_runs_survive_killed_workers_doubled_messages_broker_outages_and_failovers(
    chaos: Chaos, broker: str, record_property: Callable[[str, object], None]
) -> None:
    broker_name = "redis" if broker.startswith("redis") else "rabbitmq"
    replay = (
        f"SYNCHUB_CHAOS_SEED={SEED} SYNCHUB_CHAOS_TRIALS={TRIALS} .venv/bin/python -m pytest "
        f"-q -p no:cacheprovider tests/distributed/test_chaos.py -k {broker_name}"
    )
    print(f"chaos on {broker_name}: seed {SEED}, {TRIALS} trials; replay: {replay}", flush=True)
    began = time.monotonic()
    chaos.add_jobs()
    trials = [chaos.plan(i, fault) for i, fault in enumerate(_rotation(chaos.rng, TRIALS))]
    current: Trial | None = None
    outcome = "passed"
    try:
        for current in trials:
            chaos.run_trial(current)
            print(f"trial {current.number} {current.fault}: {current.seconds} s, runs "
                  f"{current.runs}, {current.details}", flush=True)  # fmt: skip
        current = None
        # Once more over the whole history, after the last runs are settled.
        chaos.settle(chaos.requested)
        chaos.check()
    except (AssertionError, pytest.fail.Exception) as exc:
        outcome = "failed"
        where = "the final check" if current is None else (
            f"trial {current.number} ({current.fault}, plan {current.plan}, "
            f"details {current.details})"
        )  # fmt: skip
        if current is not None:
            current.result = f"failed: {exc}"
        pytest.fail(
            f"chaos on {broker_name} failed in {where} with seed {SEED}: {exc}\n"
            f"replay: {replay}\n{chaos.diagnostics()}"
        )
    finally:
        summary = {
            "broker": broker_name,
            "seed": SEED,
            "trials_planned": TRIALS,
            "trials_passed": sum(t.result == "ok" for t in trials),
            "faults": dict(Counter(t.fault for t in trials if t.result != "not run")),
            "wall_s": round(time.monotonic() - began, 1),
            "slowest_trial_s": max((t.seconds for t in trials), default=0),
            "longest_takeover_s": round(max(chaos.takeovers, default=0), 2),
            "result": outcome,
            **chaos.tally(),
        }
        print(json.dumps(summary), flush=True)
        for key, value in summary.items():
            record_property(f"chaos_{key}", value)
        if REPORT:
            trials_file = f"{REPORT}.{broker_name}-{SEED}.trials.json"
            Path(trials_file).write_text(
                json.dumps([asdict(t) for t in trials], indent=1, default=str)
            )
            with open(REPORT, "a") as out:
                out.write(json.dumps({**summary, "trials_file": trials_file}) + "\n")
