"""`synchub export` and `synchub apply` through the real command: the plan printed, a
bad file exit 2 naming its line, and secrets read from the environment."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Synchub

FILE = """\
version: 1
remotes:
  box:
    type: sftp
    options: {host: box.lan, user: u, pass: "${SYNCHUB_SECRET_BOX_PASS}"}
jobs:
  photos:
    params: {source: /srv/photos, destination: "box:/photos"}
    cron: 0 2 * * *
"""


def test_apply_prints_the_plan_and_export_gives_the_file_back(
    synchub: Synchub, tmp_path: Path
) -> None:
    path = tmp_path / "synchub.yaml"
    path.write_text(FILE)

    missing = synchub("apply", str(path), check=False)
    assert missing.returncode == 2
    assert "line 5: remotes.box.options.pass: the environment variable " in missing.stderr
    assert "SYNCHUB_SECRET_BOX_PASS is not set" in missing.stderr

    synchub.env["SYNCHUB_SECRET_BOX_PASS"] = "s3cret"
    dry = synchub("apply", str(path), "--dry-run")
    assert dry.stdout.splitlines()[:2] == ["+ remote box", '    type: "sftp"']
    assert dry.stdout.splitlines()[-1] == (
        "dry run: 2 to create, 0 to change, 0 to remove; nothing was changed"
    )
    assert synchub.json("job", "list") == []

    done = synchub("apply", str(path))
    assert done.stdout.splitlines()[-1].startswith("applied: 2 created, 0 changed, 0 removed")
    assert "s3cret" not in done.stdout + done.stderr

    exported = synchub("export").stdout
    assert "pass: ${SYNCHUB_SECRET_BOX_PASS}" in exported and "s3cret" not in exported
    (tmp_path / "exported.yaml").write_text(exported)
    again = synchub("apply", str(tmp_path / "exported.yaml"), "--json")
    assert json.loads(again.stdout)["plan"] == []
    edited = exported.replace("cron: 0 2 * * *", "cron: 0 3 * * *")
    changed = synchub("apply", "-", input=edited)
    assert "~ job photos" in changed.stdout
    assert '    cron: "0 2 * * *" → "0 3 * * *"' in changed.stdout


def test_a_bad_file_exits_2_naming_the_line_and_changes_nothing(
    synchub: Synchub, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(FILE.replace("    cron:", "    crom:"))
    proc = synchub("apply", str(path), check=False)
    assert proc.returncode == 2
    assert "line 9: jobs.photos.crom: unknown key 'crom'" in proc.stderr
    path.write_text("jobs:\n  a: {\n")
    proc = synchub("apply", str(path), check=False)
    assert proc.returncode == 2 and "line 3: malformed YAML" in proc.stderr
    assert synchub("apply", str(tmp_path / "none.yaml"), check=False).returncode == 2
    assert synchub.json("remote", "list") == []


def test_export_schema_prints_the_json_schema(synchub: Synchub) -> None:
    schema = json.loads(synchub("export", "--schema").stdout)
    assert schema["title"] == "synchub configuration"
    assert set(schema["properties"]) == {"version", "remotes", "jobs", "alerts"}
