"""The Celery app of the configured settings, for Celery's own tools and Flower:
`celery -A synchub.celery_app inspect active`, `celery -A synchub.celery_app flower`.
It stays at this path, outside `synchub.processes`, because the deployment files and
the docs name it; the app itself is made by `synchub.processes.worker`."""

from synchub.config import Settings
from synchub.processes.worker import make_app

app = make_app(Settings())
