"""Configuration as code: ConfigApplied, the plan of an apply."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class FieldChangePublic(BaseModel):
    field: str  #: e.g. cron, options.host, params.source
    #: as the file writes it: secrets as references, "(secret)" for a secret's value
    before: Any = None
    after: Any = None


class PlanStepPublic(BaseModel):
    action: Literal["create", "change", "remove"]
    kind: Literal["remote", "job", "alert"]
    name: str
    changes: list[FieldChangePublic]  #: field by field; empty for a removal


class ConfigApplied(BaseModel):
    sha256: str  #: the digest of the body, as the audit events name it
    dry_run: bool
    changed: bool  #: the database was changed (false for a dry run or an empty plan)
    plan: list[PlanStepPublic]  #: empty: the configuration already matches the file
