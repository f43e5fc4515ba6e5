"""info, folders, tasks — filled in by the lead."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
