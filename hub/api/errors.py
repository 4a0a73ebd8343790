"""JSON API errors: one envelope, ``{"errors":[{"code","message"}]}`` like the registry's."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return JSONResponse({"errors": [error]}, status_code=self.status)


class BadRequest(ApiError):
    status, code = 400, "BAD_REQUEST"


class NotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class Unauthorized(ApiError):
    status, code = 401, "UNAUTHORIZED"


class Forbidden(ApiError):
    status, code = 403, "DENIED"
