"""The backend of the rclone-sync-hub web console, under /compat/rsh.

Its users point the console's API_URL at `<synchub>/compat/rsh`; it then calls the
paths of its original backend under this prefix. Errors answer {"message": ...}
with a 4xx status, the one field the console shows (see `problems.message_only`).
The routes translate to synchub's services and hold no rules of their own:

- `rsh_browse`: /rclone/list, /folders/tree, /origins/list, /origins/refresh
- `rsh_tasks`: /info/, /folders/ and /tasks/ (watched folders and their files)

Every route needs a token, as everywhere in synchub; a token limited to this
prefix (`--scope compat-rsh`) may carry the console's fixed value.
"""

from __future__ import annotations

from fastapi import APIRouter

from synchub.api.compat import rsh_browse, rsh_tasks
from synchub.api.problems import message_responses
from synchub.services.tokens import Scope

#: Where the console's API is mounted: the path a `compat-rsh` token is limited to.
PREFIX = Scope.COMPAT_RSH.prefix  # "/compat/rsh"

router = APIRouter(
    prefix=PREFIX,
    tags=["compat: rclone-sync-hub"],
    responses=message_responses(401, 403, 422),
)
router.include_router(rsh_browse.router)
router.include_router(rsh_tasks.router)
