"""`synchub runs prune` and the jobs' keep settings through the real entry point."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Synchub, wait_for


def test_runs_prune_says_what_went_and_a_dry_run_changes_nothing(
    synchub: Synchub, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    dst = tmp_path / "dst"
    add = ["job", "add", "photos", "--source", str(src), "--dest", str(dst), "--op", "copy"]
    # It should refuse a keep that keeps nothing, or is not one, and add no job.
    for bad in (["--keep-runs", "0"], ["--keep-runs", "abc"], ["--keep-logs", "14"]):
        proc = synchub(*add, *bad, check=False)
        assert proc.returncode == 2, proc.stderr
        assert "keep-" in proc.stderr
    assert synchub("job", "show", "photos", check=False).returncode != 0
    synchub(*add, "--keep-runs", "1", "--keep-logs", "14d")
    assert "keeps runs 1, logs 14d" in synchub("job", "show", "photos").stdout
    # A server's alert pass looks at each run as it ends (until then a run stays, for
    # a day); it prunes nothing in the background with SYNCHUB_PRUNE_EVERY=0.
    synchub.env["SYNCHUB_PRUNE_EVERY"] = "0"
    synchub.serve()
    for _ in range(3):
        synchub("job", "run", "photos", "--wait")

    def dry_run() -> str | None:
        out = synchub("runs", "prune", "--dry-run").stdout
        return out if out.startswith("would delete 2 run(s)") else None

    dry = wait_for("the alert pass to see the runs", dry_run)
    assert "; 0 done file task(s)" in dry
    assert len(synchub.json("runs", "list")) == 3

    done = synchub("runs", "prune", "--job", "photos").stdout
    assert done.startswith("deleted 2 run(s)"), done
    assert len(synchub.json("runs", "list")) == 1
    proc = synchub("runs", "prune", "--job", "nope", check=False)
    assert proc.returncode == 3 and "nope" in proc.stderr
