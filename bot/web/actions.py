"""The dashboard's actions on a complaint: which forms the complaint page shows, and what a POST does.

:func:`actions_for` lists the forms an account gets on a complaint: an action its role may attempt
(:data:`handlers.web_roles.PERMISSIONS`) *and* the lifecycle table allows now (:func:`handlers.lifecycle.decide`,
the table the card's buttons read), so the page never offers what would be refused. The complaint page
includes ``_actions.html`` with ``actions`` (and ``flash``): :func:`actions_context` gives both.

``POST /dashboard/complaints/{number}/action`` does one (:mod:`bot.services.web_actions`, one transaction,
the same services as the Telegram buttons) and answers ``303`` back to the complaint page with a short message
kept in the session under :data:`FLASH_KEY` (shown once: :func:`pop_flash`), so reloading the page after it
repeats nothing. A complaint the account may not see is a 404 (as the page); an action its role may not
attempt, a 403. Forms are urlencoded with their ``csrf_token`` field; resolving is a multipart form (the
"after" photo) whose token travels in the URL's ``?csrf_token=``, read as a stream and capped at
:data:`PHOTO_MAX_BYTES`, JPEG or PNG, stored re-encoded without metadata (:meth:`storage.media.MediaStore.put`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp_session
from aiohttp import BodyPartReader, web

from bot.services.web_actions import FORBIDDEN, NOT_FOUND, ActionInput, Outcome, perform
from bot.web.context import account_of, language_of, t, web_context
from handlers import lifecycle
from handlers import proof as proof_core
from handlers.context import AgencyInfo
from handlers.events import MediaRef
from handlers.web_roles import Account, WebAction
from storage.images import NotAnImage

#: the session key of the message shown once on the complaint page after an action
FLASH_KEY = "flash"
#: the largest "after" photo accepted from the form (a phone photo is 2-6 MB)
PHOTO_MAX_BYTES = 10 * 1024 * 1024
#: text fields of a multipart form are short: more than this is not read
FIELD_MAX_BYTES = 64 * 1024
#: where the forms post (the dashboard is mounted at /dashboard/, see bot.web.setup_web)
ACTION_PATH = "/dashboard/complaints/{number}/action"
#: what each action's form asks for (field names of the POST)
FIELDS: dict[WebAction, tuple[str, ...]] = {
    WebAction.ACCEPT: (),
    WebAction.PROCESS: (),
    WebAction.RESOLVE: ("photo", "text"),
    WebAction.REJECT: ("reason",),
    WebAction.REPLY: ("text",),
    WebAction.REASSIGN: ("agency",),
    WebAction.NUDGE: (),
    WebAction.NOTE: ("note",),
}
_JPEG, _PNG = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"


class ComplaintLike(Protocol):
    """What :func:`actions_for` reads of a complaint (the ORM row, or a page's view of it)."""

    @property
    def number(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def agency(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ActionForm:
    """One form on the complaint page."""

    action: str  # the WebAction value (the form's ``action`` field)
    label_key: str  # catalog key of its button
    url: str
    fields: tuple[str, ...] = ()
    #: resolve: a file upload (multipart, the CSRF token in the URL)
    multipart: bool = False
    #: reassign: the other agencies, (key, name)
    choices: tuple[tuple[str, str], ...] = ()
    #: resolve: the category wants a proof photo (``required``) or takes one (``optional``)
    photo: str = ""


def _allowed_now(action: WebAction, status: str) -> bool:
    """The lifecycle table's word for the status changes; a reply and a note fit any complaint a citizen
    still owns, a reminder any open one."""
    if action in (WebAction.ACCEPT, WebAction.PROCESS, WebAction.RESOLVE, WebAction.REJECT, WebAction.REASSIGN):
        return lifecycle.decide(status, action.value).allowed
    if action == WebAction.NUDGE:
        return not lifecycle.is_terminal(status)
    if action == WebAction.REPLY:
        return status != lifecycle.Status.DITARIK.value  # withdrawn by an erasure: nobody to write to
    return True


def actions_for(
    account: Account | None,
    complaint: ComplaintLike,
    *,
    agencies: Iterable[AgencyInfo] = (),
    proof_mode: str = proof_core.OPTIONAL,
    language: str = "id",
) -> list[ActionForm]:
    """The forms ``account`` gets on ``complaint``, in the order of :class:`WebAction`. ``agencies``: the
    city's (reassign offers the others; none given, no reassign form); ``proof_mode``: the category's
    ``proof_photo``."""
    if account is None or not account.role.can_see(complaint.agency):
        return []
    url = ACTION_PATH.format(number=quote(complaint.number, safe=""))
    choices = tuple((a.key, a.name(language)) for a in agencies if a.key != complaint.agency)
    forms: list[ActionForm] = []
    for action in WebAction:
        if not account.role.may(action) or not _allowed_now(action, complaint.status):
            continue
        if action == WebAction.REASSIGN and not choices:
            continue
        resolve = action == WebAction.RESOLVE
        with_photo = resolve and proof_mode != proof_core.OFF
        fields = FIELDS[action] if not resolve or with_photo else ("text",)
        forms.append(ActionForm(
            action=action.value, label_key=f"web.actions.button.{action.value}", url=url, fields=fields,
            multipart=with_photo, choices=choices if action == WebAction.REASSIGN else (),
            photo=proof_mode if with_photo else "",
        ))
    return forms


async def pop_flash(request: web.Request) -> dict[str, Any] | None:
    """The message left by the last action (``{"text": ..., "ok": bool}``), once."""
    session = await aiohttp_session.get_session(request)
    found = session.pop(FLASH_KEY, None)
    return found if isinstance(found, dict) else None


async def actions_context(request: web.Request, complaint: ComplaintLike) -> dict[str, Any]:
    """What ``_actions.html`` reads, for the complaint page's context: ``actions``, ``flash``, ``photo_max_mb``."""
    rt = web_context(request).runtime
    category = rt.config.categories.get(getattr(complaint, "category", ""))
    forms = actions_for(
        account_of(request), complaint, agencies=rt.ctx.agencies,
        proof_mode=category.proof_photo if category is not None else proof_core.OPTIONAL,
        language=language_of(request),
    )
    return {"actions": forms, "flash": await pop_flash(request), "photo_max_mb": PHOTO_MAX_BYTES // (1024 * 1024)}


# --- the POST -------------------------------------------------------------------------------------------


async def _read_part(part: BodyPartReader, limit: int) -> bytes | None:
    """A part's bytes, or None past ``limit`` (the rest is read and dropped, so the browser gets the answer
    rather than a reset connection; memory stays flat)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


async def _read_multipart(request: web.Request) -> tuple[dict[str, str], bytes | None, str | None]:
    """The fields, the photo's bytes (None: no file chosen) and a problem's catalog key."""
    fields: dict[str, str] = {}
    photo: bytes | None = None
    problem: str | None = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue  # a nested multipart: no browser sends one
        if part.name == "photo":
            data = await _read_part(part, PHOTO_MAX_BYTES)
            if data is None:
                problem = "web.actions.photo_too_large"
            elif data:
                photo = data
        elif part.name:
            raw = await _read_part(part, FIELD_MAX_BYTES)
            fields[part.name] = (raw or b"").decode("utf-8", "replace")
    if photo is not None and problem is None and not photo.startswith((_JPEG, _PNG)):
        problem = "web.actions.photo_bad_type"
    return fields, photo, problem


async def _store_photo(request: web.Request, data: bytes) -> MediaRef | None:
    """Stored as a photo from the chat is: re-encoded without metadata; None when it does not decode."""
    try:
        stored = await web_context(request).runtime.media.put(data)
    except NotAnImage:
        return None
    return MediaRef(sha256=stored.sha256, mime_type=stored.mime_type, size=stored.size)


async def _flash_and_back(request: web.Request, text: str, *, ok: bool) -> web.StreamResponse:
    session = await aiohttp_session.get_session(request)
    session[FLASH_KEY] = {"text": text, "ok": ok}
    # returned, not raised: the session middleware stores the message on this very response
    return web.Response(status=303, headers={"Location": request.path.rsplit("/", 1)[0]})


def _flash_text(request: web.Request, outcome: Outcome) -> str:
    rt = web_context(request).runtime
    params = dict(outcome.params)
    if "agency" in params:
        agency = rt.ctx.agency(params["agency"])
        params["agency"] = agency.name(language_of(request)) if agency is not None else params["agency"]
    if outcome.key is not None:
        return t(request, outcome.key, **params)
    return t(request, "web.actions.refused", reason=outcome.reason or "")


async def post_action(request: web.Request) -> web.StreamResponse:
    """One action from the complaint page (see the module's docstring)."""
    account = account_of(request)
    if account is None:  # the sign-in middleware sends strangers to the login page first
        raise web.HTTPForbidden(text=t(request, "web.actions.forbidden"))
    rt = web_context(request).runtime
    number = request.match_info["number"]
    if "\x00" in number:  # PostgreSQL refuses a NUL in a text parameter (a 500); no tracking number has one
        raise web.HTTPNotFound(text=t(request, "web.actions.not_found"))
    photo_bytes: bytes | None = None
    problem: str | None = None
    if request.content_type == "multipart/form-data":
        try:
            fields, photo_bytes, problem = await _read_multipart(request)
        except ValueError:  # no boundary, or a body that is not multipart: no browser sends one
            raise web.HTTPBadRequest(text=t(request, "web.bad_form")) from None
    else:
        form = await request.post()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
    # a NUL byte is dropped: PostgreSQL refuses it in a text column (the audit note, the reason), and no
    # keyboard types one
    fields = {key: value.replace("\x00", "") for key, value in fields.items()}
    action = fields.get("action", "")
    photo: MediaRef | None = None
    may_resolve = action == WebAction.RESOLVE.value and account.role.may(WebAction.RESOLVE)
    if may_resolve and problem is None and photo_bytes:
        photo = await _store_photo(request, photo_bytes)
        if photo is None:
            problem = "web.actions.photo_unreadable"
    if may_resolve and problem is not None:
        return await _flash_and_back(request, t(request, problem, mb=PHOTO_MAX_BYTES // (1024 * 1024)), ok=False)
    given = ActionInput(
        action=action, reason=fields.get("reason", ""), text=fields.get("text", ""),
        agency=fields.get("agency", ""), note=fields.get("note", ""), photo=photo,
    )
    outcome = await perform(rt, account, number, given, language=language_of(request))
    if outcome.kind == NOT_FOUND:
        raise web.HTTPNotFound(text=t(request, "web.actions.not_found"))
    if outcome.kind == FORBIDDEN:
        raise web.HTTPForbidden(text=t(request, "web.actions.forbidden"))
    return await _flash_and_back(request, _flash_text(request, outcome), ok=outcome.ok)


def routes() -> list[web.RouteDef]:
    return [web.post("/complaints/{number}/action", post_action, name="complaint_action")]


__all__ = [
    "ACTION_PATH",
    "FLASH_KEY",
    "PHOTO_MAX_BYTES",
    "ActionForm",
    "actions_context",
    "actions_for",
    "pop_flash",
    "post_action",
    "routes",
]
