"""The CLI refuses text that cannot be stored (exit 2, one line on stderr, nothing
changed), and lists rows that hold it anyway (the text rule: synchub/core/text.py).

On main before this rule every refusal below was missing: the arguments were saved
(or, for bytes that are not UTF-8, the command failed with a traceback), and after
the rows written straight into the database `remote list` and `job list` failed
with a UnicodeEncodeError on SQLite and PostgreSQL (checked against main's code);
a "[/]" in an option value made `remote list` fail with rich's MarkupError.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from synchub.store.db import make_engine
from tests.e2e.conftest import Synchub

#: A byte that is not UTF-8 in argv reaches Python as this lone surrogate; subprocess
#: turns it back into the byte 0xff.
NOT_UTF8 = "\udcff"


def unchanged(synchub: Synchub) -> tuple[object, ...]:
    return synchub.json("remote", "list"), synchub.json("job", "list")


#: Bad arguments: (argv, the one line on stderr).
BAD_ARGUMENTS: list[tuple[list[str], str]] = [
    (["remote", "add", "nas", "local", f"copy_links={NOT_UTF8}"],
     "argument 5 is not valid UTF-8 text (it holds the lone surrogate U+DCFF)"),
    (["remote", "add", f"n{NOT_UTF8}", "local"],
     "argument 3 is not valid UTF-8 text (it holds the lone surrogate U+DCFF)"),
    (["remote", "add", "s3x", "s3", "provider=AWS", "endpoint=\x1b[2J"],
     "argument 6 holds the control character U+001B; it must be one line of text"),
    (["job", "add", "j", "--source", "/tmp/a\nb", "--dest", "/tmp/c"],
     "argument 5 (after --source) holds the control character U+000A; "
     "it must be one line of text"),
    (["job", "add", "j", "--source", "/tmp/a", "--dest", "/tmp/c", "--cron", "0\t2 * * *"],
     "argument 9 (after --cron) holds the control character U+0009; "
     "it must be one line of text"),
    (["job", "add", "j", "--kind", "command", "--arg", "echo\x07"],
     "argument 7 (after --arg) holds the control character U+0007; "
     "only tab and line breaks are allowed"),
    (["job", "add", "j", "--kind", "x", "--param", 'note="\\u0000"'],
     "--param note holds the control character U+0000; it must be one line of text"),
    (["runs", "list", "--job", "\u009b"],
     "argument 4 (after --job) holds the control character U+009B; "
     "it must be one line of text"),
]  # fmt: skip


def test_a_bad_argument_is_exit_2_with_one_line(synchub: Synchub) -> None:
    before = unchanged(synchub)
    for argv, message in BAD_ARGUMENTS:
        proc = synchub(*argv, check=False)
        assert (proc.returncode, proc.stderr, proc.stdout) == (2, f"error: {message}\n", "")
    assert unchanged(synchub) == before


def test_a_command_line_may_span_lines_in_argv_items_and_env_values(synchub: Synchub) -> None:
    # It should pass the text check: what refuses it is the server's command-job flag.
    proc = synchub(
        "job", "add", "j", "--kind", "command", "--arg", "sh", "--arg=-c",
        "--arg", "echo a\n\techo b", "--env", "PEM=-----\nx\n-----", check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "command jobs are disabled" in proc.stderr.lower(), proc.stderr


def test_a_secret_read_from_stdin_and_a_setting_are_checked_too(synchub: Synchub) -> None:
    before = unchanged(synchub)
    proc = synchub(
        "remote", "add", "box", "sftp", "host=h", "pass=-", input="se\x1bcret\n", check=False
    )
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: the value of pass read from stdin holds the control character U+001B; "
        "it must be one line of text\n",
    )
    synchub.env = {**synchub.env, "SYNCHUB_DEFAULT_TZ": "UTC\x1b"}
    proc = synchub("remote", "list", check=False)
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: Bad setting SYNCHUB_DEFAULT_TZ: the value holds the control character "
        "U+001B; it must be one line of text\n",
    )
    synchub.env.pop("SYNCHUB_DEFAULT_TZ")
    assert unchanged(synchub) == before


#: rclone.conf files holding bad text, and what the one line on stderr says.
BAD_CONFS: list[tuple[bytes, str]] = [
    (b"[a]\ntype = local\n# \x00\n",
     "the rclone config holds the control character U+0000; "
     "only tab and line breaks are allowed"),
    (b"[a]\ntype = local\ncopy_links = tr\tue\n",
     "the value of 'copy_links' in [a] holds the control character U+0009; "
     "it must be one line of text"),
    (b"[a\xed\xa0\x80]\ntype = local\n", "it is not UTF-8 text (byte 2)"),
]  # fmt: skip


def test_an_rclone_conf_holding_bad_text_imports_nothing(synchub: Synchub, tmp_path: Path) -> None:
    conf = tmp_path / "rclone.conf"
    for content, message in BAD_CONFS:
        conf.write_bytes(content)
        proc = synchub("remote", "import", str(conf), check=False)
        assert proc.returncode == 2
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
        assert message in proc.stderr
    assert synchub.json("remote", "list") == []


@pytest.fixture
def synchub_on_db(tmp_path: Path, db_url: str) -> Synchub:
    """The CLI over a fresh database of each kind."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCHUB_", "DATABASE_URL"))}
    env.update({"SYNCHUB_HOME": str(home), "SYNCHUB_DATABASE_URL": db_url})
    cli = Synchub(home, env)
    cli("init")
    return cli


def test_rows_holding_bad_text_are_listed_with_it_shown_escaped(
    synchub_on_db: Synchub, db_url: str, tmp_path: Path
) -> None:
    cli = synchub_on_db
    cli("remote", "add", "nas", "local")
    cli("remote", "add", "s3x", "s3", "provider=AWS")
    cli("job", "add", "photos", "--source", f"nas:{tmp_path}", "--dest", "nas:/tmp/x")
    cli("job", "run", "photos")
    # Written straight into the database: the JSON escape of a lone surrogate in JSON
    # columns, an escape sequence in a text column, and "[/]", which rich would read
    # as markup.
    engine = make_engine(db_url)
    json = "CAST(:v AS json)" if engine.dialect.name == "postgresql" else ":v"
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE remotes SET options = {json} WHERE name = 's3x'"),
            {"v": '{"provider": "AWS", "endpoint": "\\ud800x[/]"}'},
        )
        conn.execute(text(f"UPDATE jobs SET tags = {json}"), {"v": '["\\udc80"]'})
        conn.execute(text("UPDATE runs SET error = :v"), {"v": "boom \x1b[31mred"})
    engine.dispose()
    # It should list and show them, lone surrogates replaced and controls escaped.
    listed = {name: cli(name, "list").stdout for name in ("remote", "job", "runs")}
    assert all("\x1b" not in shown for shown in listed.values())
    assert "endpoint=\ufffdx[/]" in listed["remote"]  # data, not rich's markup
    assert "\\x1b[31" in listed["runs"]  # the table cuts the rest
    assert cli.json("remote", "show", "s3x")["options"]["endpoint"] == "\ufffdx[/]"
    assert cli.json("job", "show", "photos")["tags"] == ["\ufffd"]
