"""Edits through the real `synchub` command: clearing, one-by-one options, flags that
belong to another kind of job, and edits that change nothing."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Synchub


def audit_actions(home: Path) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{home / 'synchub.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT action FROM audit_events ORDER BY id")).all()
    engine.dispose()
    return [r[0] for r in rows]


def add_backup(synchub: Synchub, tmp_path: Path) -> None:
    synchub(
        "job", "add", "backup", "--source", str(tmp_path), "--dest", str(tmp_path / "out"),
        "--op", "copy", "--option", "--checksum", "--option", "--bwlimit=10M",
        "--timeout", "10m", "--tag", "nightly",
    )  # fmt: skip


def test_an_edit_without_a_change_says_so_and_writes_nothing(
    synchub: Synchub, tmp_path: Path
) -> None:
    add_backup(synchub, tmp_path)
    before = synchub.json("job", "show", "backup")
    for args in ([], ["--timeout", "10m"], ["--tag", "nightly"], ["--add-option", "--checksum"]):
        done = synchub("job", "edit", "backup", *args)
        assert done.stdout == "nothing to change: job backup is already so\n", args
    assert synchub.json("job", "show", "backup") == before
    assert audit_actions(synchub.home)[-1] == "job.add"


def test_a_timeout_a_list_and_an_option_can_be_removed(synchub: Synchub, tmp_path: Path) -> None:
    add_backup(synchub, tmp_path)
    done = synchub("job", "edit", "backup", "--timeout", "none")
    assert done.stdout.startswith("changed job backup (timeout_s)")
    assert synchub.json("job", "show", "backup")["timeout_s"] is None

    synchub("job", "edit", "backup", "--remove-option", "--bwlimit", "--add-option", "--size-only")
    assert synchub.json("job", "show", "backup")["params"]["options"] == [
        "--checksum",
        "--size-only",
    ]
    bad = synchub("job", "edit", "backup", "--remove-option", "--fast-list", check=False)
    assert bad.returncode == 2
    assert bad.stderr == (
        "error: Job 'backup' has no option '--fast-list'; its options: --checksum, --size-only\n"
    )

    synchub("job", "edit", "backup", "--clear", "options", "--clear", "tags")
    job = synchub.json("job", "show", "backup")
    assert job["params"]["options"] == [] and job["tags"] == []
    bad = synchub("job", "edit", "backup", "--clear", "tags", "--tag", "x", check=False)
    assert (bad.returncode, bad.stderr) == (2, "error: Give --clear tags or new tags, not both\n")


def test_flags_of_another_kind_are_refused_and_env_edits_a_command_job(
    synchub: Synchub, tmp_path: Path
) -> None:
    add_backup(synchub, tmp_path)
    before = synchub.json("job", "show", "backup")
    bad = synchub("job", "edit", "backup", "--env", "TOKEN=x", check=False)
    assert bad.returncode == 2
    assert bad.stderr == (
        "error: --env goes with command jobs (add --kind command); job backup is of kind rclone\n"
    )
    bad = synchub("job", "add", "other", "--env", "TOKEN=x", check=False)
    assert bad.returncode == 2 and "--env goes with command jobs" in bad.stderr
    assert synchub.json("job", "show", "backup") == before

    synchub.env["SYNCHUB_ALLOW_COMMAND_JOBS"] = "1"
    synchub("job", "add", "restic", "--kind", "command", "--arg", "true", "--env", "TOKEN=a")
    done = synchub("job", "edit", "restic", "--env", "TOKEN=b")
    assert done.stdout.startswith("changed job restic (params.env)")
    again = synchub("job", "edit", "restic", "--env", "TOKEN=b")
    assert again.stdout.startswith("nothing to change")
    bad = synchub("job", "edit", "restic", "--option", "--checksum", check=False)
    assert bad.returncode == 2
    assert "--option goes with rclone jobs; job restic is of kind command" in bad.stderr


def test_a_password_is_rotated_with_remote_edit(synchub: Synchub) -> None:
    synchub("remote", "add", "box", "sftp", "host=nas.invalid", "user=me", "pass=-", input="one\n")
    done = synchub("remote", "edit", "box", "pass=-", input="two\n")
    assert done.stdout == "changed remote box (pass)\n"
    same = synchub("remote", "edit", "box", "pass=-", input="two\n")
    assert same.stdout == "nothing to change: remote box is already so\n"
    assert synchub("remote", "edit", "box").stdout.startswith("nothing to change")
    assert audit_actions(synchub.home)[-2:] == ["remote.add", "remote.edit"]
    assert synchub.json("remote", "show", "box")["options"]["pass"] == "********"


def test_import_takes_a_choice_for_names_taken_and_remove_names_the_users(
    synchub: Synchub, tmp_path: Path
) -> None:
    synchub("remote", "add", "nas", "local")
    conf = tmp_path / "rclone.conf"
    conf.write_text("[nas]\ntype = local\n\n[photos]\ntype = alias\nremote = nas:/photos\n")
    bad = synchub("remote", "import", str(conf), check=False)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: Remote(s) nas already exist: nothing was imported")
    assert [r["name"] for r in synchub.json("remote", "list")] == ["nas"]

    done = synchub("remote", "import", str(conf), "--on-conflict", "skip")
    assert done.stdout == (
        "imported 1 remote(s): photos\nskipped (already there) 1 remote(s): nas\n"
    )
    done = synchub("remote", "import", str(conf), "--on-conflict", "replace")
    assert done.stdout == "imported 0 remote(s)\nreplaced 2 remote(s): nas, photos\n"

    refused = synchub("remote", "remove", "nas", check=False)
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: Remote 'nas' is used by remote(s) photos (alias): remove or change them first\n"
    )
    synchub("remote", "remove", "photos")
    synchub("remote", "remove", "nas")
    assert synchub.json("remote", "list") == []
