"""The one way an Open311 handler fails: :class:`Open311Error`, turned into the spec's error list (in the
path's format) by :func:`bot.open311.routes.error_middleware`, with the HTTP status as its ``code``."""

from __future__ import annotations


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def bad_request(description: str) -> Open311Error:
    return Open311Error(400, description)


def forbidden(description: str) -> Open311Error:
    return Open311Error(403, description)


def not_found(description: str) -> Open311Error:
    return Open311Error(404, description)


__all__ = ["Open311Error", "bad_request", "forbidden", "not_found"]
