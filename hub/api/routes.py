"""All /api routes, gathered here and mounted by hub.app. Each module exports ``routes``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from hub.api import accounts, auth, deploy, harbor_v1, quotas, search, v1

routes: list[BaseRoute] = [
    *auth.routes,
    *accounts.routes,
    *v1.routes,
    *harbor_v1.routes,
    *search.routes,
    *deploy.routes,
    *quotas.routes,  # namespace storage quotas (hub.limits)
]
