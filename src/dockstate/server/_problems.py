"""Problem details (RFC 9457): what every REST error is answered with."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

__all__ = ["PROBLEM_JSON", "Problem", "ProblemError", "phrase", "problem", "problem_body"]

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem details object; routes may add members (e.g. ``oldest``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="Always about:blank.")
    title: str = Field(description="The HTTP status phrase, e.g. 'Conflict'.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong; for engine refusals, Docker's message.")


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """An RFC 9457 problem details response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class ProblemError(HTTPException):
    """Raise to answer with a problem details response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status, detail, headers)
        self.title = title or phrase(status)
        self.extra = extra


def problem_body(err: ProblemError) -> dict[str, Any]:
    """The problem details object a ``ProblemError`` is answered with."""
    return {
        "type": "about:blank",
        "title": err.title,
        "status": err.status_code,
        "detail": err.detail,
        **err.extra,
    }


def phrase(status: int) -> str:
    if status == 422:
        return "Unprocessable Content"  # RFC 9110's name; Python < 3.13 has the older one
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
