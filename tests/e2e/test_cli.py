"""The CLI through its real entry point: contract, JSON, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synchub.engines.obscure import obscure
from tests.e2e.conftest import Synchub


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.txt").write_text("alpha")
    (src / "sub").mkdir()
    (src / "sub" / "b.txt").write_text("beta")
    return src, dst


def snapshot(synchub: Synchub) -> tuple[object, ...]:
    """Everything a bad command must leave unchanged."""
    return (
        synchub.json("remote", "list"),
        synchub.json("job", "list"),
        synchub.json("runs", "list", "--limit", "1000"),
    )


def test_a_first_job_runs_in_the_foreground_without_a_server(
    synchub: Synchub, dirs: tuple[Path, Path]
) -> None:
    src, dst = dirs
    synchub("remote", "add", "laptop", "local")
    synchub("remote", "add", "nas", "local")
    synchub(
        "job",
        "add",
        "photos",
        "--source",
        f"laptop:{src}",
        "--dest",
        f"nas:{dst}",
        "--cron",
        "*/15 * * * *",
        "--tz",
        "Europe/Berlin",
    )
    job = synchub.json("job", "show", "photos")
    assert job["schedule"]["description"] == "Every 15th minute of every hour (Europe/Berlin)"
    assert len(job["next_fires"]) == 5
    # It should say the first retry's window as the policy draws it (half to all).
    assert "retries 3 (first after 30-60s)" in synchub("job", "show", "photos").stdout

    done = synchub("job", "run", "photos", "--wait")
    assert "succeeded" in done.stdout
    (run,) = synchub.json("runs", "list")
    # It should show the run under synchub's and Celery's names, with its stats.
    assert run["state"] == "succeeded" and run["celery_state"] == "SUCCESS"
    assert run["trigger"] == "manual" and run["attempt"] == 1 and run["retry_of"] is None
    assert set(run) >= {
        "id",
        "job",
        "state",
        "celery_state",
        "trigger",
        "scheduled_for",
        "queued_at",
        "started_at",
        "finished_at",
        "attempt",
        "retry_of",
        "exit_code",
        "error",
        "stats",
    }
    assert set(run["stats"]) == {
        "bytes",
        "files",
        "checks",
        "deletes",
        "renames",
        "errors",
        "elapsed_s",
        "speed_bps",
    }
    assert run["stats"]["files"] == 2 and run["stats"]["bytes"] == 9
    assert (dst / "sub" / "b.txt").read_text() == "beta"
    shown = synchub.json("runs", "show", str(run["id"]), "--files")
    assert sorted((f["path"], f["action"]) for f in shown["files"]) == [
        ("a.txt", "copied"),
        ("sub/b.txt", "copied"),
    ]
    assert synchub("runs", "logs", str(run["id"])).stdout


def test_a_failed_foreground_run_exits_1_and_schedules_a_retry(
    synchub: Synchub, tmp_path: Path
) -> None:
    synchub(
        "job",
        "add",
        "gone",
        "--source",
        str(tmp_path / "missing"),
        "--dest",
        str(tmp_path / "d"),
        "--retries",
        "2",
    )
    proc = synchub("job", "run", "gone", "--wait", check=False)
    assert proc.returncode == 1
    (run,) = synchub.json("runs", "list")
    # A missing source directory (rclone exit 3) cannot be fixed by retrying.
    assert run["state"] == "failed" and run["exit_code"] == 3
    assert run["error_class"] == "source_missing"
    assert run["error"].startswith("source missing:")


def test_a_job_removed_with_its_history_kept_leaves_its_runs_to_read(
    synchub: Synchub, dirs: tuple[Path, Path]
) -> None:
    src, dst = dirs
    synchub("job", "add", "photos", "--source", str(src), "--dest", str(dst))
    synchub("job", "add", "scratch", "--source", str(src), "--dest", str(dst / "s"))
    synchub("job", "run", "photos", "--wait")
    synchub("job", "run", "photos")  # no server is up: it stays pending
    synchub("job", "run", "scratch")

    removed = synchub("job", "remove", "photos", "--keep-history")

    assert "removed job photos; kept its 2 run(s)" in removed.stdout
    assert "cancelled waiting run(s)" in removed.stdout
    runs = synchub.json("runs", "list", "--job", "photos")
    assert [(r["job"], r["job_deleted"], r["state"]) for r in runs] == [
        ("photos", True, "cancelled"),
        ("photos", True, "succeeded"),
    ]
    done = str(runs[1]["id"])
    synchub.env["COLUMNS"] = "160"  # one line per run in the table
    assert "photos (deleted)" in synchub("runs", "list").stdout
    assert synchub("runs", "logs", done).stdout
    assert len(synchub.json("runs", "show", done, "--files")["files"]) == 2
    # It should refuse a retry with one clear line.
    retry = synchub("runs", "retry", done, check=False)
    assert retry.returncode == 2
    assert retry.stderr.strip() == (
        f"error: Job 'photos' was deleted: run {done} is kept as history and cannot be retried"
    )
    # Without --keep-history the runs go with the job.
    assert "and its 1 run(s)" in synchub("job", "remove", "scratch").stdout
    assert synchub("runs", "list", "--job", "scratch", check=False).returncode == 3


def test_cron_validates_describes_and_lists_fire_times(synchub: Synchub) -> None:
    doc = synchub.json(
        "cron",
        "30 2 * * *",
        "--tz",
        "Europe/Berlin",
        "--from",
        "2025-03-29T12:00:00+01:00",
        "-n",
        "2",
    )
    assert doc == {
        "expr": "30 2 * * *",
        "tz": "Europe/Berlin",
        "description": "At 02:30 every day (Europe/Berlin)",
        # 2025-03-30 02:30 does not exist in Berlin: it fires right after the gap.
        "next": ["2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"],
    }


def test_cron_without_tz_uses_the_configured_default_zone(synchub: Synchub) -> None:
    synchub.env["SYNCHUB_DEFAULT_TZ"] = "Asia/Tokyo"
    doc = synchub.json("cron", "0 9 * * *", "--from", "2024-12-31T12:00:00+00:00", "-n", "1")
    assert doc["tz"] == "Asia/Tokyo"
    assert doc["next"] == ["2025-01-01T09:00:00+09:00"]


BAD = [
    # (command, words the one error line must contain, exit code)
    (["job", "add", "j", "--source", "/s", "--dest", "/d", "--cron", "60 * * * *"], "minute", 2),
    (["job", "add", "j", "--source", "/s", "--dest", "/d", "--cron", "* * * * * *"], "5 fields", 2),
    (["job", "add", "j", "--source", "/s", "--dest", "/d", "--cron", ""], "empty", 2),
    (["job", "add", "j", "--source", "/s", "--dest", "/d", "--cron", "*/0 * * * *"], "minute", 2),
    (
        ["job", "add", "j", "--source", "/s", "--dest", "/d", "--cron", "0 0 30 2 *"],
        "never fire",
        2,
    ),
    (
        [
            "job",
            "add",
            "j",
            "--source",
            "/s",
            "--dest",
            "/d",
            "--cron",
            "0 * * * *",
            "--tz",
            "Mars/Base",
        ],
        "time zone",
        2,
    ),
    (["job", "add", "j", "--source", "/s", "--dest", "/d", "--every", "0s"], "at least", 2),
    (["job", "add", "j", "--source", "/s", "--dest", "/d", "--every", "-5m"], "interval", 2),
    (["job", "add", "j", "--source", "/s", "--dest", "/d", "--every", "abc"], "interval", 2),
    (
        [
            "job",
            "add",
            "j",
            "--source",
            "/s",
            "--dest",
            "/d",
            "--every",
            "5m",
            "--cron",
            "* * * * *",
        ],
        "not both",
        2,
    ),
    (["job", "add", "j", "--source", "nowhere:/x", "--dest", "/d"], "nowhere", 2),
    (["job", "add", "j", "--source", "relative/path", "--dest", "/d"], "path", 2),
    (
        [
            "job",
            "add",
            "j",
            "--source",
            "/s",
            "--dest",
            "/d",
            "--option",
            "--exclude-from=/etc/passwd",
        ],
        "--exclude-from",
        2,
    ),
    (
        ["job", "add", "j", "--source", "/s", "--dest", "/d", "--option", "--transfers=lots"],
        "--transfers",
        2,
    ),
    (
        ["job", "add", "j", "--source", "/s", "--dest", "/d", "--option", "--transfers=129"],
        "--transfers: expected at most 128",
        2,
    ),
    (["job", "add", "j", "--source", "/s", "--dest", "/d", "--filter", "! ** broken"], "filter", 2),
    (["job", "add", "j", "--source", "/s", "--dest", "/d", "--op", "explode"], "op", 2),
    (["job", "add", "my job", "--source", "/s", "--dest", "/d"], "name", 2),
    (["job", "add", "j;rm -rf", "--source", "/s", "--dest", "/d"], "name", 2),
    (["job", "add", "dup", "--source", "/s", "--dest", "/d"], "already exists", 2),
    (["remote", "add", "r", "nosuchtype"], "nosuchtype", 2),
    (["remote", "add", "r", "sftp", "user=me"], "host", 2),
    (["remote", "add", "$(x)", "local"], "name", 2),
    (["remote", "add", "lap", "local"], "already exists", 2),
    (["runs", "show", "999"], "999", 3),
    (["runs", "cancel", "999"], "999", 3),
    (["job", "show", "nope"], "nope", 3),
    (["job", "run", "nope"], "nope", 3),
]


def test_every_bad_input_exits_with_one_clear_line_and_changes_nothing(synchub: Synchub) -> None:
    synchub("remote", "add", "lap", "local")
    synchub("job", "add", "dup", "--source", "/s", "--dest", "/d")
    before = snapshot(synchub)
    failures = []
    for args, words, code in BAD:
        proc = synchub(*args, check=False)
        lines = proc.stderr.strip().splitlines()
        if proc.returncode != code or len(lines) != 1 or words.lower() not in lines[0].lower():
            failures.append((args, proc.returncode, proc.stderr))
    assert failures == []
    assert snapshot(synchub) == before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("this is not an ini file", "rclone config"),  # foreign
        ("[a]\nhost = x\n", "type"),  # a section without a type
        ("RCLONE_ENCRYPT_V0:\nabc", "encrypted"),  # rclone's own encrypted config
        ("[ok]\ntype = local\n[bad]\ntype = nosuchtype\n", "nosuchtype"),  # all or nothing
    ],
)
def test_a_corrupt_or_foreign_rclone_conf_is_refused_whole(
    synchub: Synchub, tmp_path: Path, content: str, words: str
) -> None:
    conf = tmp_path / "rclone.conf"
    conf.write_text(content)
    proc = synchub("remote", "import", str(conf), check=False)
    assert proc.returncode == 2
    assert words.lower() in proc.stderr.lower()
    assert synchub.json("remote", "list") == []


def test_import_reads_an_rclone_conf_and_keeps_secrets_out_of_output(
    synchub: Synchub, tmp_path: Path
) -> None:
    conf = tmp_path / "rclone.conf"
    conf.write_text(
        "[box]\ntype = sftp\nhost = example.invalid\nuser = me\n"
        f"pass = {obscure('5wgBz2-hunter2')}\n\n[disk]\ntype = local\n"
    )
    synchub("remote", "import", str(conf))
    shown = synchub.json("remote", "show", "box")
    assert shown["options"]["pass"] == "********"
    assert shown["options"]["host"] == "example.invalid"
    listing = synchub("remote", "list").stdout + json.dumps(synchub.json("remote", "list"))
    assert "5wgBz2" not in listing
    # The stored secret is encrypted: not in the database file in the clear.
    assert b"5wgBz2" not in (synchub.home / "synchub.db").read_bytes()


def test_config_show_masks_secrets(synchub: Synchub) -> None:
    synchub.env["SYNCHUB_SECRET_KEY"] = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="
    synchub.env["SYNCHUB_DATABASE_URL"] = "postgresql://bob:hunter2@db.invalid/synchub"
    shown = synchub("config", "show").stdout
    assert "hunter2" not in shown and "c2VjcmV0" not in shown
    assert "postgresql+psycopg://bob:***@db.invalid/synchub" in shown
