"""The Celery app of the configured settings, for Celery's own tools and Flower:
`celery -A synchub.celery_app inspect active`, `celery -A synchub.celery_app flower`."""

from synchub.config import Settings
from synchub.worker import make_app

app = make_app(Settings())
