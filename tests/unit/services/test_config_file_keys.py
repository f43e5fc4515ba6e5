"""The configuration file's format: its JSON Schema as shipped, its job keys."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema_rs
import pytest

from synchub.services.config_file import (
    EDIT_ONLY,
    ConfigInvalid,
    JobEntry,
    env_name,
    json_schema,
    load,
)
from synchub.services.jobs.fields import JobFields

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_schema_is_the_generated_one() -> None:
    # Regenerate with: synchub export --schema > synchub/schemas/config.schema.json
    # (and the same into docs/config.schema.json).
    generated = json_schema()
    assert (ROOT / "synchub/schemas/config.schema.json").read_text() == generated
    assert (ROOT / "docs/config.schema.json").read_text() == generated


def test_a_jobs_keys_are_jobfields_own_so_new_fields_flow_through() -> None:
    expected = [f.name for f in dataclasses.fields(JobFields) if f.name not in EDIT_ONLY]
    assert list(JobEntry.model_fields) == expected


def test_the_schema_accepts_what_the_loader_accepts() -> None:
    text = (
        "version: 1\n"
        "remotes:\n  nas: {type: sftp, options: {host: h, pass: '${P}'}}\n"
        "jobs:\n  j: {params: {source: /a, destination: 'nas:/b'}, every: 15m, retries: 2}\n"
        "alerts:\n  a: {url: '${U}', events: [failure]}\n"
    )
    loaded = load(text)
    validator = jsonschema_rs.validator_for(json.loads(json_schema()))
    assert validator.is_valid(loaded.config.model_dump(exclude_unset=True, mode="json"))
    assert not validator.is_valid({"jobs": {"j": {"crn": "x"}}})


def test_variable_names_are_upper_case_with_one_underscore_for_other_characters() -> None:
    assert env_name("box", "pass") == "SYNCHUB_SECRET_BOX_PASS"
    assert env_name("my-nas.2", "client_secret") == "SYNCHUB_SECRET_MY_NAS_2_CLIENT_SECRET"
    assert env_name("alert", "ops", "url") == "SYNCHUB_SECRET_ALERT_OPS_URL"


def test_a_file_whose_aliases_expand_into_billions_of_values_is_refused_at_once() -> None:
    lines = ["version: 1", 'a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for n in range(1, 9):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]")
    with pytest.raises(ConfigInvalid) as raised:
        load("\n".join(lines))
    assert "more than 200,000 values" in str(raised.value.problems[0])


def test_aliases_within_reason_still_load() -> None:
    text = 'version: 1\njobs: {}\nremotes: {}\nalerts: {}\nx: &x ["a"]\n'
    with pytest.raises(ConfigInvalid) as raised:  # an unknown key, not the budget
        load(text)
    assert "more than" not in str(raised.value.problems[0])
