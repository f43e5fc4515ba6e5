"""A run of many small files over real rclone and real databases: every file rclone
reports is in the change report and in the log, however fast the lines come."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from tests.support.harness import Harness

#: More JSON lines than a pipe's default 64 KiB holds (≈ 250 of rclone's lines).
FILES = 1500


def test_every_file_of_a_many_file_copy_is_reported_and_logged(
    svc: Services, clock: FakeClock, src: Path, dst: Path
) -> None:
    names = sorted(f"d{i % 12:02d}/f{i:05d}.txt" for i in range(FILES))
    for name in names:
        (src / name).parent.mkdir(exist_ok=True)
        (src / name).write_text(name)
    fields = {"source": str(src), "destination": str(dst), "op": "copy"}
    svc.jobs.add("many", JobFields(params=fields))
    run_id = svc.runs.request("many")

    h = Harness(svc, clock)  # its runner flushes every 20 ms: many flushes per run
    h.runner.settings = replace(h.runner.settings, log_cap_bytes=5 << 20, file_report_cap=FILES)
    h.step()

    run = svc.runs.show(run_id)
    assert run.state == "succeeded"
    assert run.files_summary == {"copied": FILES}
    rows = svc.runs.files(run_id)
    assert sorted(row.path for row in rows) == names
    assert all(row.size == len(row.path) for row in rows)
    copied = sorted(
        line.message.removesuffix(": Copied (new)")
        for line in svc.runs.logs(run_id)
        if line.message.endswith(": Copied (new)")
    )
    assert copied == names
    seqs = [line.seq for line in svc.runs.logs(run_id)]
    assert seqs == list(range(1, len(seqs) + 1))  # no line lost between two
