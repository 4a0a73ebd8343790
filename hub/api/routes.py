"""All /api routes, gathered here and mounted by hub.app. Each module exports ``routes``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from hub.api import (
    accounts,
    auth,
    deploy,
    harbor_v1,
    openapi,
    playground,
    quotas,
    search,
    signin,
    stars,
    trusted_publishing,
    v1,
    webhooks,
)

routes: list[BaseRoute] = [
    *auth.routes,
    *accounts.routes,
    # before v1: its /api/v1/repositories/{path:path} would swallow .../trusted-publishers
    *trusted_publishing.routes,
    *v1.routes,
    *harbor_v1.routes,
    *search.routes,
    *deploy.routes,
    *signin.routes,
    *openapi.routes,
    *webhooks.routes,
    *playground.routes,
    *stars.routes,
    *quotas.routes,  # namespace storage quotas (hub.limits)
]
