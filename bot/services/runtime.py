"""The dependencies every service needs, passed explicitly (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import AppConfig, build_router, load_service_area
from bot.export_links import ExportLinks
from handlers.context import FlowContext
from routing.geo import ServiceArea
from routing.geocode import Geocoder
from routing.router import Router
from storage.media import MediaStore


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _nothing() -> None:
    return None


@dataclass(slots=True)
class Runtime:
    config: AppConfig
    sessionmaker: async_sessionmaker[AsyncSession]
    media: MediaStore
    ctx: FlowContext = field(init=False)
    router: Router = field(init=False)
    #: the city's boundary and districts (offline point-in-polygon)
    area: ServiceArea = field(init=False)
    #: turns pins into street names (``reverse``) and typed addresses into pins (``search``); None = off
    geocoder: Geocoder | None = None
    clock: Callable[[], datetime] = _utcnow
    #: signs the expiring /dataku links for WhatsApp (bot.export_links); None = no links (no web server)
    exports: ExportLinks | None = None
    #: called after a commit that put messages in the outbox, so the sender wakes up at once
    on_enqueued: Callable[[], None] = _nothing
    #: the deployment's secret (``SIKESAL_MEDIA_SECRET``, else derived from the bot token; the same in every
    #: process): keys the hash that replaces an erased citizen's chat id (bot.services.erasure)
    secret: bytes = b""

    #: Telegram updates this process stored and has not yet processed, by inbox row id: the inbox takes
    #: an update from here instead of reading its row back (bot.telegram.intake); bounded, and anything
    #: not here (stored by another process or before a restart) is read from the table
    fresh_updates: dict[int, dict[str, Any]] = field(default_factory=dict)

    #: the context per channel (its catalog overlay), built once: see :meth:`ctx_for`
    _channel_ctx: dict[str, FlowContext] = field(init=False, default_factory=dict)

    def ctx_for(self, channel: str | None) -> FlowContext:
        """The flow context in ``channel``'s words (WhatsApp says "balas dengan angka", not "tekan")."""
        key = channel or ""
        found = self._channel_ctx.get(key)
        if found is None:
            found = self._channel_ctx[key] = self.ctx.for_channel(channel)
        return found

    def __post_init__(self) -> None:
        self.ctx = self.config.flow_context()
        self.router = build_router(self.config)
        self.area = load_service_area(self.config)
