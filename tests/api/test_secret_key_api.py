"""A server whose secret key does not open the stored secrets (restored from another
machine, a key file replaced) or that has none: no 500 anywhere. Remotes are listed
and shown with their secrets unreadable, edited by giving them again and removed;
what needs a value answers 409 and says why; /readyz names the failed check.

On the code before this behaviour, GET /remotes answered 500 with a wrong key.
"""

from __future__ import annotations

from pathlib import Path

from synchub.store.crypto import SecretBox, new_key
from tests.api.conftest import Api, ok, problem


def crypt(tmp_path: Path, name: str) -> dict[str, object]:
    (tmp_path / name).mkdir()
    return {
        "name": name,
        "type": "crypt",
        "options": {"remote": str(tmp_path / name), "password": "pw"},
    }


def test_with_a_wrong_key_remotes_can_be_read_repaired_and_removed(
    api: Api, tmp_path: Path
) -> None:
    ok(api.admin.post("/api/v1/remotes", json=crypt(tmp_path, "vault")), 201)
    ok(api.admin.post("/api/v1/remotes", json=crypt(tmp_path, "spare")), 201)
    ok(api.admin.post("/api/v1/remotes", json={"name": "plain", "type": "local"}), 201)
    assert ok(api.viewer.get("/readyz"))["checks"]["secrets"] == "ok"
    # The server now holds another key than the one the secrets were sealed with.
    api.svc.__dict__["box"] = SecretBox(new_key(), source="SYNCHUB_SECRET_KEY")

    # It should list and show them, the secrets unreadable, for every reader.
    listed = {r["name"]: r for r in ok(api.viewer.get("/api/v1/remotes"))["data"]}
    assert listed["vault"]["unreadable"] == "wrong secret key"
    assert listed["vault"]["options"] == {"remote": str(tmp_path / "vault")}
    assert listed["plain"]["unreadable"] is None
    assert ok(api.viewer.get("/api/v1/remotes/vault"))["unreadable"] == "wrong secret key"
    assert "vault" in ok(api.viewer.get("/compat/rsh/rclone/list"))

    # It should answer 409, saying why, where a secret is needed.
    detail = problem(api.operator.post("/api/v1/remotes/vault/test"), 409)["detail"]
    assert "remote 'vault' cannot be read" in detail and "synchub init" not in detail
    kept = api.admin.patch("/api/v1/remotes/vault", json={"options": {"remote": "/elsewhere"}})
    assert "give every secret option" in problem(kept, 409)["detail"]

    # It should say so in readiness, naming the check.
    ready = api.viewer.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "fail"
    checks = ready.json()["checks"]
    assert checks["database"] == "ok" and "remote(s) spare, vault" in checks["secrets"]

    # It should take the secrets given again, and remove a remote.
    fixed = ok(api.admin.patch("/api/v1/remotes/vault", json={"options": {"password": "new"}}))
    assert fixed["unreadable"] is None and fixed["options"]["password"] == "********"
    assert ok(api.operator.post("/api/v1/remotes/vault/test"))["ok"] is True
    assert api.admin.delete("/api/v1/remotes/spare").status_code == 204
    assert ok(api.viewer.get("/readyz"))["checks"]["secrets"] == "ok"


def test_without_a_key_adding_a_secret_answers_409(api: Api, tmp_path: Path) -> None:
    api.svc.__dict__["box"] = SecretBox(
        None, source=str(tmp_path / "secret.key"), missing=lambda: "No secret key: run init"
    )
    refused = api.admin.post("/api/v1/remotes", json=crypt(tmp_path, "vault"))
    assert problem(refused, 409)["detail"] == "No secret key: run init"
    assert ok(api.viewer.get("/api/v1/remotes"))["count"] == 0
    ok(api.admin.post("/api/v1/remotes", json={"name": "plain", "type": "local"}), 201)
