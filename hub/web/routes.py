"""All HTML routes and the static files, gathered here and mounted by hub.app."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from hub.web import account, catalog, namespaces, repository
from hub.web.templating import STATIC

routes: list[BaseRoute] = [
    Route("/", catalog.home, methods=["GET"]),
    Route("/search", catalog.search_page, methods=["GET"]),
    Route("/r/{path:path}/star", repository.star_form, methods=["POST"]),
    Route("/r/{path:path}", repository.repository_get, methods=["GET"]),
    Route("/u/{name}", namespaces.namespace_page, methods=["GET"]),
    Route("/o/{name}", namespaces.namespace_page, methods=["GET"]),
    Route("/o/{name}/members", namespaces.member_form, methods=["POST"]),
    Route("/signin", account.signin_page, methods=["GET"]),
    Route("/settings", account.settings_page, methods=["GET"]),
    Route("/settings/tokens", account.create_token, methods=["POST"]),
    Route("/settings/tokens/{token_id}/revoke", account.revoke_token, methods=["POST"]),
    Route("/settings/robots", account.create_robot, methods=["POST"]),
    Route("/settings/repositories", account.update_repository, methods=["POST"]),
    Route("/settings/publishers", account.add_publisher, methods=["POST"]),
    Route("/settings/publishers/{rule_id}/remove", account.remove_publisher, methods=["POST"]),
    # check_dir=False: the app must start even where static/ is not shipped (a wheel install);
    # pages then lose their styles, never their content.
    Mount("/static", app=StaticFiles(directory=STATIC, check_dir=False), name="static"),
]
