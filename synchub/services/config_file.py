"""The configuration file (`synchub export`, `synchub apply`): its format, read with
the line of every key, written the same way every time, and its JSON Schema.

    version: 1
    remotes:
      nas: {type: sftp, options: {host: nas.lan, pass: "${SYNCHUB_SECRET_NAS_PASS}"}}
    jobs:
      photos: {params: {op: sync, source: /photos, destination: "nas:/photos"}}
    alerts:
      ops: {url: "${SYNCHUB_SECRET_ALERT_OPS_URL}"}

A job's keys are JobFields' own (less the edit-only ones), so a field the jobs service
learns is a key of the file, and of its schema, without a change here.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from dataclasses import dataclass
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, create_model

from synchub.core.errors import InvalidFields, InvalidInput
from synchub.core.text import MULTILINE_FIELDS, check_tree
from synchub.services.jobs.fields import JobFields

#: JobFields that only an edit gives: no key of the file.
EDIT_ONLY = frozenset({"manual", "add_options", "remove_options", "replace_params"})

#: Job fields kept among the job's params once saved: the file may give them, and an
#: export writes them where they are kept (in `params`).
IN_PARAMS = frozenset(
    {"max_depth", "delete_guard", "require_marker", "check_access", "keep_deleted"}
)

#: seconds, or a duration as typed: 30s, 15m, 6h, 1d, 1h30m
Duration = StrictInt | str

#: Job fields whose type in the file is wider than JobFields' (a number of seconds).
_WIDER: dict[str, Any] = {
    "every": Duration,
    "retry_delay": Duration,
    "timeout": Duration,
    "delete_guard": StrictInt | str,
}

#: A value that is a reference to an environment variable, read by `apply`:
#: ${NAME}, or ${NAME:-keep} to keep the stored value when NAME is not set.
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-keep)?\}")

HEADER = (
    "# synchub configuration: `synchub apply FILE` makes synchub match this file.\n"
    "# Format: docs/config-as-code.md; JSON Schema: `synchub export --schema`.\n"
)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RemoteEntry(_Entry):
    """A remote: an rclone backend and its options."""

    type: str = Field(min_length=1, max_length=64, examples=["sftp"])
    #: the backend's options; a secret one as "${SYNCHUB_SECRET_<REMOTE>_<OPTION>}"
    options: dict[str, str] = Field(default_factory=dict)
    max_concurrency: int | None = Field(default=None, ge=1, le=10_000)


class AlertEntry(_Entry):
    """An alert: where failures and recoveries are told."""

    #: an Apprise URL, as "${SYNCHUB_SECRET_ALERT_<NAME>_URL}" (it may hold credentials)
    url: str = Field(min_length=1, max_length=2000)
    events: list[str] | None = None  #: failure, recovery; absent: both
    jobs: list[str] = Field(default_factory=list)  #: only these jobs
    tags: list[str] = Field(default_factory=list)  #: only jobs with one of these tags
    after: int = Field(default=1, ge=1, le=1000)  #: failed chains in a row before it tells
    #: the daily digest's time of day (events with digest), HH:MM in the default zone
    digest_at: str = Field(default="08:00", pattern=r"^[0-2]?[0-9]:[0-5][0-9]$")


def _job_model() -> type[BaseModel]:
    """The model of a job's entry, field by field from JobFields."""
    hints = get_type_hints(JobFields)
    found: dict[str, Any] = {}
    for item in dataclasses.fields(JobFields):
        if item.name in EDIT_ONLY:
            continue
        kind = _WIDER.get(item.name, hints[item.name])
        found[item.name] = (kind | None, None)
    model: type[BaseModel] = create_model(
        "JobEntry",
        __base__=_Entry,
        __doc__="A job: JobFields' keys; absent ones take their defaults.",
        **found,
    )
    return model


JobEntry = _job_model()


class ConfigFile(_Entry):
    """synchub's configuration. A section left out is not managed by the file: apply
    leaves those objects alone (and --prune too)."""

    model_config = ConfigDict(title="synchub configuration")

    version: Literal[1] = 1
    remotes: dict[str, RemoteEntry] | None = None
    jobs: dict[str, JobEntry] | None = None  # type: ignore[valid-type]
    alerts: dict[str, AlertEntry] | None = None


SECTIONS = ("remotes", "jobs", "alerts")


def json_schema() -> str:
    """The file's JSON Schema, as shipped in synchub/schemas/config.schema.json."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **ConfigFile.model_json_schema(),
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


# -- reading --------------------------------------------------------------------


class FileProblem(InvalidInput):
    """The configuration file is not valid."""

    def __init__(self, message: str, *, line: int | None, where: str = "") -> None:
        at = f"line {line}: " if line is not None else ""
        super().__init__(f"{at}{where + ': ' if where else ''}{message}", field=where or None)
        self.line = line  #: 1-based, None when it cannot be said
        self.where = where  #: the key path, e.g. jobs.photos.cron


class ConfigInvalid(InvalidFields):
    """The configuration file is not valid: nothing was changed."""

    def __init__(self, problems: list[InvalidInput]) -> None:
        super().__init__(problems)
        count = len(problems)
        lines = "\n".join(p.message for p in problems)
        head = "The file has 1 problem" if count == 1 else f"The file has {count} problems"
        self.args = (f"{head}; nothing was changed:\n{lines}",)


@dataclass(frozen=True)
class Loaded:
    """A file read and checked against the format."""

    config: ConfigFile
    #: the line of each key path, e.g. ("jobs", "photos", "cron") -> 12
    lines: dict[tuple[str, ...], int]

    def line_of(self, *path: str) -> int | None:
        """The line of `path`, or of its nearest parent in the file."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def problem(self, message: str, *path: str) -> FileProblem:
        return FileProblem(message, line=self.line_of(*path), where=".".join(path))


def load(text: str) -> Loaded:
    """The file in `text` (YAML, or JSON, which YAML reads too); ConfigInvalid naming the
    line of each problem: malformed YAML, an unknown or misspelt key, a wrong type."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        tree = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        why = exc.problem or exc.context or "not YAML"
        raise ConfigInvalid([FileProblem(f"malformed YAML: {why}", line=line)]) from None
    except YAMLError as exc:
        raise ConfigInvalid([FileProblem(f"malformed YAML: {exc}", line=None)]) from None
    if not isinstance(tree, dict):
        got = "nothing" if tree is None else "a list" if isinstance(tree, list) else "a value"
        raise ConfigInvalid([FileProblem(f"expected a mapping at the top, got {got}", line=1)])
    lines: dict[tuple[str, ...], int] = {}
    plain = _plain(tree, (), lines, [MAX_VALUES])
    try:
        _check_text(plain)
        config = ConfigFile.model_validate(plain)
    except ValidationError as exc:
        found = Loaded(ConfigFile(), lines)
        raise ConfigInvalid([_problem(found, e) for e in exc.errors()]) from None
    except InvalidInput as exc:
        raise ConfigInvalid([FileProblem(exc.message, line=None)]) from None
    return Loaded(config, lines)


def _check_text(plain: dict[str, Any]) -> None:
    """InvalidText for text that cannot be stored, as every other door refuses it: a
    job's argv items and env values alone may span lines."""
    for section, entries in plain.items():
        if not isinstance(entries, dict):
            check_tree(entries, section, multiline=())
            continue
        for name, entry in entries.items():
            check_tree({name: None}, section, multiline=())
            check_tree(entry, f"{section}.{name}", multiline=MULTILINE_FIELDS)


#: Values a file may hold once its aliases are expanded: far more than any real
#: configuration, and a bound for a "billion laughs" file, whose few lines of nested
#: aliases would otherwise expand into billions of values.
MAX_VALUES = 200_000


def _plain(
    node: Any, path: tuple[str, ...], lines: dict[tuple[str, ...], int], budget: list[int]
) -> Any:
    """ruamel's round-trip tree as plain values (its booleans are ints, its strings
    subclasses), noting the line of every key and item on the way. `budget` holds the
    values still allowed."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigInvalid(
            [
                FileProblem(
                    f"the file holds more than {MAX_VALUES:,} values once its aliases "
                    "(*name) are expanded",
                    line=None,
                )
            ]
        )
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            here = (*path, str(key))
            line = _line(node, key, is_key=True)
            if line is not None:
                lines[here] = line
            out[str(key) if not isinstance(key, str) else key] = _plain(value, here, lines, budget)
        return out
    if isinstance(node, list):
        items = []
        for index, value in enumerate(node):
            here = (*path, str(index))
            line = _line(node, index, is_key=False)
            if line is not None:
                lines[here] = line
            items.append(_plain(value, here, lines, budget))
        return items
    return _scalar(node)


def _line(node: Any, key: Any, *, is_key: bool) -> int | None:
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        found = lc.key(key) if is_key else lc.item(key)
    except (KeyError, IndexError, TypeError):
        return None
    return int(found[0]) + 1 if found else None


def _scalar(value: Any) -> Any:
    from ruamel.yaml.scalarbool import ScalarBoolean

    if isinstance(value, ScalarBoolean):
        return bool(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value  # a date, say: the model names what it expected


def _problem(found: Loaded, error: Any) -> FileProblem:
    path = tuple(str(p) for p in error.get("loc", ()))
    if error.get("type") == "extra_forbidden":
        known = _known_keys(path[:-1])
        hint = f"; known keys: {', '.join(known)}" if known else ""
        return found.problem(f"unknown key {path[-1]!r}{hint}", *path)
    message = str(error.get("msg", "invalid"))
    return found.problem(message[0].lower() + message[1:], *path)


def _known_keys(parent: tuple[str, ...]) -> list[str]:
    """The keys allowed where `parent` is, for a message about an unknown one."""
    model: type[BaseModel] | None = None
    if not parent:
        model = ConfigFile
    elif len(parent) == 2:
        entries: dict[str, type[BaseModel]] = {
            "remotes": RemoteEntry,
            "jobs": JobEntry,
            "alerts": AlertEntry,
        }
        model = entries.get(parent[0])
    return list(model.model_fields) if model is not None else []


# -- writing --------------------------------------------------------------------


def dump(document: dict[str, Any]) -> str:
    """`document` as the file: the header, then YAML in the order given, each value
    quoted only where YAML needs it. The same document always gives the same text."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096  # no folded lines: a line is one key
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return HEADER + stream.getvalue()


def env_name(*parts: str) -> str:
    """SYNCHUB_SECRET_ and `parts` upper-cased, each run of other characters than
    letters and digits as one _: ("box", "pass") -> SYNCHUB_SECRET_BOX_PASS."""
    words = [re.sub(r"[^A-Za-z0-9]+", "_", p).strip("_").upper() for p in parts]
    return "SYNCHUB_SECRET_" + "_".join(w for w in words if w)


def reference(name: str, *, keep: bool = False) -> str:
    return "${" + name + (":-keep" if keep else "") + "}"


#: What a reference resolves to when its variable is not set and the file says keep.
KEEP = object()


def resolve(value: str, environ: dict[str, str]) -> str | object | None:
    """The value of `value` if it is a reference: the variable's, KEEP for ${NAME:-keep}
    without the variable, None for ${NAME} without it; `value` itself otherwise."""
    match = REFERENCE.fullmatch(value)
    if match is None:
        return value
    name, keep = match.group(1), match.group(2)
    if name in environ:
        return environ[name]
    return KEEP if keep else None


def reference_name(value: str) -> str | None:
    match = REFERENCE.fullmatch(value)
    return match.group(1) if match else None
