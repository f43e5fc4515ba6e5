"""`synchub config show` and synchub.toml through the real command."""

from __future__ import annotations

from tests.e2e.conftest import Synchub


def test_config_show_prints_every_value_with_its_source(synchub: Synchub) -> None:
    (synchub.home / "synchub.toml").write_text("workers = 7\n")
    lines = synchub("config", "show").stdout.splitlines()
    shown = dict(line.split(" = ", 1) for line in lines)
    assert shown["workers"] == f"7  # from {synchub.home / 'synchub.toml'}"
    assert shown["home"] == f"{synchub.home}  # from SYNCHUB_HOME"
    assert shown["host"] == "127.0.0.1  # default"
    assert shown["secret_key"] == f"(the key in {synchub.home / 'secret.key'})  # default"
    assert shown["broker_url"] == "(none)  # default"
    # No setting is printed blank.
    assert all(not value.startswith(" ") for value in shown.values())
    data = synchub.json("config", "show")
    assert data["workers"] == {
        "value": 7,
        "source": "file",
        "origin": str(synchub.home / "synchub.toml"),
    }


def test_an_unknown_key_in_synchub_toml_stops_every_command(synchub: Synchub) -> None:
    (synchub.home / "synchub.toml").write_text("workers = 7\nwokers = 8\n")
    for args in (["config", "show"], ["job", "list"]):
        proc = synchub(*args, check=False)
        assert proc.returncode == 2
        assert proc.stderr == (
            f"error: {synchub.home / 'synchub.toml'}: unknown setting 'wokers' "
            "(did you mean 'workers'?); the settings are in docs/configuration.md\n"
        )
