"""The dashboard's own "page not found" (issue 13): a mistyped or stale ``/dashboard/...`` address gets a page
in the dashboard's frame and language, with a way back to the overview, instead of aiohttp's bare
"404: Not Found" text.

Why a middleware: aiohttp raises :class:`web.HTTPNotFound` both for an address no route matches and from the
handlers themselves (a photo the account may not see); one place turns either into the same page. It sits
inside the sign-in middleware (:mod:`bot.web.auth`), so a visitor who is not signed in is still sent to the
login page first and learns nothing about which addresses exist. Static files keep their plain 404.
:func:`bare_prefix` sends ``/dashboard`` (no slash) to ``/dashboard/`` without touching the session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.web.context import render, t

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: under the sub-application's prefix: a missing stylesheet or script stays a plain 404
STATIC_PREFIX = "/dashboard/static/"
#: the address people type; aiohttp hands it to the dashboard (whose routes all start with the slash)
BARE_PREFIX = "/dashboard"


@web.middleware
async def bare_prefix(request: web.Request, handler: Handler) -> web.StreamResponse:
    """``/dashboard`` (no slash: what people type) goes to ``/dashboard/``, before the session is touched.

    Why outermost: the session cookie is scoped to ``/dashboard/``, so the browser does not send it to
    ``/dashboard``; the session middleware would start a fresh session there and its cookie would replace the
    signed-in one, signing the clerk out by typing the address."""
    if request.path == BARE_PREFIX:
        query = request.query_string
        raise web.HTTPFound(BARE_PREFIX + "/" + (f"?{query}" if query else ""))
    return await handler(request)


@web.middleware
async def not_found_page(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A :class:`web.HTTPNotFound` from routing or a handler, as the dashboard's 404 page (GET and HEAD)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        if request.method not in ("GET", "HEAD") or request.path.startswith(STATIC_PREFIX):
            raise
        if request.path.endswith("/") and len(request.path) > len(BARE_PREFIX) + 1:
            # "/dashboard/complaints/": the same address as people mean it, without the slash
            query = request.query_string
            raise web.HTTPFound(request.path.rstrip("/") + (f"?{query}" if query else "")) from None
        return render(request, "auth_message.html", {
            "title": t(request, "web.clerk.not_found.title"),
            "body": t(request, "web.clerk.not_found.body"),
        }, status=404)


__all__ = ["bare_prefix", "not_found_page"]
