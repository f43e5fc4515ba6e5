"""A remote another remote points at stays until that one goes; an import decides what
becomes of the names already taken."""

from __future__ import annotations

import re

import pytest

from synchub.core.errors import AlreadyExists, InvalidInput, RemoteInUse
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import audit
from synchub.store.db import transaction


def names(svc: Services) -> list[str]:
    return [v.name for v in svc.remotes.list()]


@pytest.mark.parametrize(
    ("type_", "options"),
    [
        ("alias", {"remote": "nas:/photos"}),
        ("crypt", {"remote": "nas:/vault", "password": "pw"}),
        ("union", {"upstreams": "/srv/a nas:/b:ro"}),
        ("combine", {"upstreams": "docs=nas:/docs"}),
        ("chunker", {"remote": "nas:"}),
        ("compress", {"remote": "nas:/z", "level": "-1"}),
        ("hasher", {"remote": "nas:/h"}),
    ],
)
def test_a_remote_another_remote_points_at_cannot_be_removed(
    svc: Services, type_: str, options: dict[str, str]
) -> None:
    svc.remotes.add("nas", "local", {})
    svc.remotes.add("wrapper", type_, options)
    with pytest.raises(RemoteInUse) as refused:
        svc.remotes.remove("nas")
    assert refused.value.message == (
        f"Remote 'nas' is used by remote(s) wrapper ({type_}): remove or change them first"
    )
    assert names(svc) == ["nas", "wrapper"]
    svc.remotes.remove("wrapper")
    svc.remotes.remove("nas")
    assert names(svc) == []


def test_a_refusal_names_the_jobs_and_the_remotes_using_it(svc: Services) -> None:
    svc.remotes.add("nas", "local", {})
    svc.remotes.add("nasty", "local", {})  # a name that starts alike is no reference
    svc.remotes.add("photos", "alias", {"remote": "nas:/photos"})
    svc.jobs.add("j", JobFields(params={"source": "nas:/a", "destination": "/b"}))
    with pytest.raises(RemoteInUse, match=r"used by job\(s\) j and by remote\(s\) photos"):
        svc.remotes.remove("nas")
    svc.remotes.remove("nasty")


CONF = (
    "[nas]\ntype = local\n\n[photos]\ntype = alias\nremote = nas:/photos\n\n[fresh]\ntype = local\n"
)


def test_an_import_fails_whole_naming_every_name_taken(svc: Services) -> None:
    svc.remotes.add("nas", "local", {})
    svc.remotes.add("photos", "local", {})
    with pytest.raises(AlreadyExists, match=r"Remote\(s\) nas, photos already exist"):
        svc.remotes.import_text(CONF)
    assert names(svc) == ["nas", "photos"]
    with pytest.raises(
        InvalidInput, match=re.escape("Bad on-conflict 'merge': use fail|skip|replace")
    ):
        svc.remotes.import_text(CONF, "merge")


def test_an_import_skips_the_names_taken(svc: Services) -> None:
    svc.remotes.add("photos", "local", {}, max_concurrency=2)
    done = svc.remotes.import_text(CONF, "skip")
    assert [v.name for v in done.added] == ["nas", "fresh"]
    assert (done.replaced, done.skipped) == ([], ["photos"])
    assert svc.remotes.show("photos").type == "local"


def test_an_import_replaces_the_names_taken_and_audits_it(svc: Services) -> None:
    svc.remotes.add("photos", "local", {}, max_concurrency=2)
    done = svc.remotes.import_text(CONF, "replace")
    assert [v.name for v in done.replaced] == ["photos"]
    photos = svc.remotes.show("photos")
    assert (photos.type, photos.options, photos.max_concurrency) == (
        "alias",
        {"remote": "nas:/photos"},
        2,
    )
    with transaction(svc.sessions) as session:
        actions = [(e.action, e.target) for e in audit.recent(session)]
    assert ("remote.replace", "photos") in actions and ("remote.add", "fresh") in actions


def test_a_bad_remote_in_an_import_changes_nothing_whatever_the_choice(svc: Services) -> None:
    svc.remotes.add("photos", "local", {})
    bad = CONF + "\n[broken]\ntype = no-such-backend\n"
    for choice in ("skip", "replace"):
        with pytest.raises(InvalidInput):
            svc.remotes.import_text(bad, choice)
    assert names(svc) == ["photos"]
    assert svc.remotes.show("photos").type == "local"


def test_a_remote_edit_that_changes_nothing_writes_nothing(svc: Services) -> None:
    svc.remotes.add("box", "sftp", {"host": "h.example", "user": "u", "pass": "pw"})
    for options in (
        {},
        {"pass": "pw"},
        {"pass": "********", "host": "h.example"},
        {"key_file": None},
    ):
        assert svc.remotes.change("box", options).changed == []
    assert svc.remotes.change("box", {}, max_concurrency=0).changed == []
    edited = svc.remotes.change("box", {"pass": "new", "user": None}, max_concurrency=3)
    assert edited.changed == ["pass", "user", "max_concurrency"]
    with transaction(svc.sessions) as session:
        assert [e.action for e in audit.recent(session)] == ["remote.edit", "remote.add"]
