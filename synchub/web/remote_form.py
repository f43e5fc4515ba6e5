"""The remote form: rclone's options for the chosen backend, what a person typed in
them, and what that asks of the services. Secrets are never written back into a
page: a secret input left blank keeps the stored value."""

from __future__ import annotations

from dataclasses import dataclass, field

from synchub.core.errors import InvalidFields, InvalidInput
from synchub.services.masks import MASK
from synchub.services.remote_views import RemoteForm

#: The prefix of an option's input: `options.host` (the services blame errors so too).
PREFIX = "options."


@dataclass(frozen=True)
class RemoteEntry:
    name: str
    type: str
    values: dict[str, str]  #: by option name, as typed; secrets never
    max_concurrency: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)  #: by input; "" the form's

    @property
    def provider(self) -> str:
        return self.values.get("provider", "")

    @property
    def general(self) -> list[str]:
        return self.errors.get("", [])

    @classmethod
    def posted(cls, fields: dict[str, str], form: RemoteForm, name: str = "") -> RemoteEntry:
        values = {o.name: fields.get(PREFIX + o.name, "") for o in form.options}
        return cls(
            name=fields.get("name", name).strip(),
            type=form.type,
            values=values,
            max_concurrency=fields.get("max_concurrency", "").strip(),
        )

    def shown(self, form: RemoteForm) -> RemoteEntry:
        """This entry as a page may show it: without the secrets typed."""
        values = {k: v for k, v in self.values.items() if k not in form.secrets}
        return RemoteEntry(self.name, self.type, values, self.max_concurrency, self.errors)

    def with_errors(self, exc: InvalidInput, form: RemoteForm) -> RemoteEntry:
        errors: dict[str, list[str]] = {}
        inputs = {PREFIX + o.name for o in form.options} | {"name", "type", "max_concurrency"}
        for problem in exc.problems if isinstance(exc, InvalidFields) else (exc,):
            at = problem.field if problem.field in inputs else ""
            errors.setdefault(at or "", []).append(problem.message)
        entry = RemoteEntry(self.name, self.type, self.values, self.max_concurrency, errors)
        return entry.shown(form)

    def to_add(self) -> dict[str, str]:
        """The options of a new remote: those typed (rclone's defaults for the rest)."""
        return {k: v for k, v in self.values.items() if v}

    def to_edit(self, form: RemoteForm, stored: dict[str, str]) -> dict[str, str | None]:
        """The change to a remote with `stored` options (secrets masked): a value
        typed replaces; a plain input emptied removes its option; a secret input
        left blank keeps the stored secret."""
        change: dict[str, str | None] = {}
        for option in form.options:
            typed = self.values.get(option.name, "")
            if option.name in form.secrets:
                if typed and typed != MASK:
                    change[option.name] = typed
            elif typed and typed != stored.get(option.name):
                change[option.name] = typed
            elif not typed and option.name in stored:
                change[option.name] = None
        return change

    def limit(self, editing: bool) -> int | None:
        """The max concurrency typed: None keeps it (edit) or sets none (add); 0 on
        an edit removes it. InvalidInput for text that is not a whole number."""
        text = self.max_concurrency
        if not text:
            return 0 if editing else None
        try:
            return int(text)
        except ValueError:
            raise InvalidInput(
                f"Bad max concurrency {text!r}: give a whole number", field="max_concurrency"
            ) from None
