"""``POST requests``: another app files a complaint, exactly as a citizen does in the chat.

The complaint goes through the chat's own filing step (:func:`bot.services.citizen.file_draft`: the tracking
number, routing by category and kecamatan, the clocks, the ``submit`` audit entry and the card in the
agency's group), owned by a citizen row that stands for the application (channel ``open311``,
``channel_user_id`` ``app:<key id>``, its name the application's name). Status notices to that row are
never queued (:data:`bot.services.complaints.UNDELIVERED_CHANNELS`): the app reads them back.

Personal data the spec lets an app send (``first_name``, ``last_name``, ``email``, ``phone``,
``device_id``, ``account_id``) is ignored, never stored: the city needs the problem, not the person.
A pin is required (routing and the agency's visit need it) and must be inside the city. A category that
requires a photo needs ``media_url`` (stored as a link in ``Complaint.external_media_url``, never fetched).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from yarl import URL

from bot.open311 import keys
from bot.open311.errors import bad_request, forbidden
from bot.services.citizen import file_draft
from bot.services.runtime import Runtime
from handlers.state import Draft
from storage.retry import retry_transient
from storage.uow import UnitOfWork

#: the longest ``media_url`` stored
MEDIA_URL_MAX = 2000

Say = Callable[..., str]


@dataclass(frozen=True, slots=True)
class Filed:
    number: str
    notice: str


@dataclass(frozen=True, slots=True)
class _Checked:
    service_code: str
    description: str
    latitude: float
    longitude: float
    address: str | None
    media_url: str | None


def _coordinate(value: str | None, name: str, limit: float, say: Say) -> float:
    try:
        number = float((value or "").strip())
    except ValueError:
        raise bad_request(say("open311.error.location_required")) from None
    if not math.isfinite(number) or abs(number) > limit:
        raise bad_request(say("open311.error.bad_coordinate", name=name))
    return number


def check(rt: Runtime, form: Mapping[str, str], say: Say) -> _Checked:
    """The request's parameters, or the spec's 400 naming what is wrong."""
    code = (form.get("service_code") or "").strip()
    if not code:
        raise bad_request(say("open311.error.service_code_required"))
    category = rt.config.categories.get(code)
    if category is None:
        raise bad_request(say("open311.error.unknown_service_code", code=code))
    if not (form.get("lat") or "").strip() or not (form.get("long") or "").strip():
        raise bad_request(say("open311.error.location_required"))
    latitude = _coordinate(form.get("lat"), "lat", 90, say)
    longitude = _coordinate(form.get("long"), "long", 180, say)
    if not rt.area.contains(latitude, longitude):
        raise bad_request(say("open311.error.outside_city", city=rt.config.city.name))
    limits = rt.config.limits
    description = " ".join((form.get("description") or "").split())
    if len(description) < limits.description_min:
        raise bad_request(say("open311.error.description_short", min=limits.description_min))
    if len(description) > limits.description_max:
        raise bad_request(say("open311.error.description_long", max=limits.description_max))
    media_url = (form.get("media_url") or "").strip() or None
    if media_url is not None:
        try:
            parsed = URL(media_url)
        except ValueError:
            parsed = None
        if (parsed is None or parsed.scheme not in ("http", "https") or not parsed.host
                or len(media_url) > MEDIA_URL_MAX or any(ch.isspace() for ch in media_url)):
            raise bad_request(say("open311.error.bad_media_url"))
    elif category.photo_required:
        raise bad_request(say("open311.error.media_url_required"))
    address = " ".join((form.get("address_string") or "").split())[: limits.address_max] or None
    return _Checked(code, description, latitude, longitude, address, media_url)


@retry_transient()
async def file_request(
    rt: Runtime, api_key: str | None, form: Mapping[str, str], say: Say, language: str = "id"
) -> Filed:
    """Check the key and the parameters, then file the complaint in one unit of work."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        application = await keys.application_for(uow, api_key)
        if application is None:
            raise forbidden(say("open311.error.api_key"))
        checked = check(rt, form, say)
        citizen = await uow.citizens.get_or_create(
            keys.OPEN311_CHANNEL, keys.app_user_id(application), display_name=application.name, language="id"
        )
        place = rt.area.place_at(checked.latitude, checked.longitude)
        draft = Draft(
            category=checked.service_code,
            description=checked.description,
            latitude=checked.latitude,
            longitude=checked.longitude,
            address=checked.address,
            kecamatan=place.kecamatan,
            kelurahan=place.kelurahan,
        )
        complaint = await file_draft(rt, uow, citizen, draft)
        complaint.external_media_url = checked.media_url
        agency = rt.ctx.agency(complaint.agency)
        due = complaint.due_at.astimezone(ZoneInfo(rt.config.city.timezone)) if complaint.due_at else None
        notice = say(
            "open311.notice.filed",
            agency=agency.name(language) if agency else complaint.agency,
            due=due.strftime("%d/%m/%Y %H:%M") if due else "-",
        )
        number = complaint.number
        await uow.commit()
    rt.on_enqueued()  # the card waits in the outbox: wake the sender
    return Filed(number=number, notice=notice)


__all__ = ["MEDIA_URL_MAX", "Filed", "check", "file_request"]
