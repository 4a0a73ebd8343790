"""All /api routes, gathered here and mounted by hub.app. Each module exports ``routes``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from hub.api import harbor_v1, v1

routes: list[BaseRoute] = [*v1.routes, *harbor_v1.routes]
