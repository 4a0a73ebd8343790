"""All /api routes, gathered here and mounted by hub.app. Each module exports ``routes``."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
