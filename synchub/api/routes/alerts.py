"""/api/v1/alerts: where failures and recoveries are told. Admins change them."""

from __future__ import annotations

from fastapi import APIRouter, status

from synchub.api.deps import AdminServices, ViewerServices
from synchub.api.problems import problem_responses as errors
from synchub.api.schemas.alerts import (
    AlertCreate,
    AlertPublic,
    AlertsPublic,
    AlertTested,
    AlertUpdate,
)
from synchub.services.alerts import AlertChanges, AlertFields

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=errors(401, 403))


@router.get("")
def list_alerts(svc: ViewerServices) -> AlertsPublic:
    """Alerts by name, their URLs masked, with their last delivery."""
    views = svc.alerts.list()
    return AlertsPublic(data=[AlertPublic.of(v) for v in views], count=len(views))


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(400, 404, 409, 413, 422))
def create_alert(body: AlertCreate, svc: AdminServices) -> AlertPublic:
    """A new alert; 422 for a URL Apprise cannot use or an unknown event, 404 for an
    unknown job."""
    fields = AlertFields(body.url, body.events, body.jobs, body.tags, body.after, body.digest_at)
    return AlertPublic.of(svc.alerts.add(body.name, fields))


@router.get("/{name}", responses=errors(404, 422))
def show_alert(name: str, svc: ViewerServices) -> AlertPublic:
    return AlertPublic.of(svc.alerts.show(name))


@router.patch("/{name}", responses=errors(400, 404, 413, 422))
def update_alert(name: str, body: AlertUpdate, svc: AdminServices) -> AlertPublic:
    """Change what is given; 422 for a bad URL, event or count (nothing changes), 404
    for an unknown alert or job."""
    changes = AlertChanges(body.url, body.events, body.jobs, body.tags, body.after, body.digest_at)
    return AlertPublic.of(svc.alerts.edit(name, changes))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404, 422))
def remove_alert(name: str, svc: AdminServices) -> None:
    """Remove an alert and the messages it has not delivered."""
    svc.alerts.remove(name)


@router.post("/{name}/test", responses=errors(404, 422))
def test_alert(name: str, svc: AdminServices) -> AlertTested:
    """Send a test message now and say whether it was delivered."""
    tested = svc.alerts.test(name)
    return AlertTested(delivered=tested.delivered, message=tested.message)
