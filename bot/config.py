"""Configuration: ``config.yaml`` (city, categories, agencies, routing, deadlines) validated with
pydantic, plus the environment for secrets and endpoints.

A wrong key or type stops the start with a message naming it (``ConfigError``), e.g.
``config.yaml: categories.jalan.target_hours: Input should be a valid number``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from handlers.context import AgencyInfo, CategoryInfo, FlowContext, Limits
from handlers.i18n import Catalog
from routing.geo import SAMPLE_GEOJSON, GeoDataError, ServiceArea
from routing.geocode import GeocoderSettings
from routing.router import Router, Rule


class ConfigError(Exception):
    """Raised with a message meant for the operator: it names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


LocalizedText = dict[str, str]

#: canned replies when config.yaml names none (staff texts are Indonesian, like the cards)
DEFAULT_CANNED = (
    "Terima kasih, laporan Anda sudah kami terima dan akan segera kami tindak lanjuti.",
    "Petugas kami sedang menuju lokasi.",
    "Mohon kirimkan foto yang lebih jelas atau titik lokasi yang lebih tepat.",
    "Perbaikan dijadwalkan dalam beberapa hari ke depan. Terima kasih atas kesabaran Anda.",
)


class CityConfig(_Strict):
    name: str = "Kota Jambi"
    tracking_prefix: str = Field(default="JMB", pattern=r"^[A-Z]{2,6}$")
    timezone: str = "Asia/Jakarta"
    default_language: str = Field(default="id", pattern=r"^(id|en)$")


class LimitsConfig(_Strict):
    description_min: int = Field(default=10, ge=1)
    description_max: int = Field(default=1000, le=3000)
    photos_max: int = Field(default=3, ge=1, le=10)
    photo_max_mb: float = Field(default=10, gt=0, le=20)  # the Bot API's getFile cannot fetch over 20 MB
    address_min: int = Field(default=5, ge=1)
    address_max: int = Field(default=300, le=1000)

    @model_validator(mode="after")
    def _bounds(self) -> LimitsConfig:
        if self.description_min > self.description_max:
            raise ValueError("description_min must not be greater than description_max")
        return self


class DraftsConfig(_Strict):
    remind_after_minutes: int = Field(default=30, ge=1)
    discard_after_minutes: int = Field(default=1440, ge=2)

    @model_validator(mode="after")
    def _order(self) -> DraftsConfig:
        if self.discard_after_minutes <= self.remind_after_minutes:
            raise ValueError("discard_after_minutes must be greater than remind_after_minutes")
        return self


class LinkCodesConfig(_Strict):
    ttl_minutes: int = Field(default=60, ge=1)


class RelayConfig(_Strict):
    """Messages between citizens and staff. A citizen who writes (not as a reply) within
    ``ask_window_hours`` of staff writing to them, with no draft in progress, is asked whether the
    text is for the agency; 0 switches the question off (only replies are relayed then)."""

    ask_window_hours: float = Field(default=6, ge=0, le=168)


class AbuseConfig(_Strict):
    """Floods and abuse (see :mod:`handlers.floods`): at most ``messages_per_minute`` messages a minute
    per citizen (an album or a split paste is one; beyond it one "pelan-pelan", the rest stored but not
    answered until the rate drops) and ``complaints_per_day`` new complaints per citizen per local day.
    0 switches a limit off."""

    messages_per_minute: int = Field(default=20, ge=0, le=10_000)
    complaints_per_day: int = Field(default=5, ge=0, le=10_000)


class MediaLinksConfig(_Strict):
    """Signed links to stored photos on the app's web server (``SIKESAL_PUBLIC_URL/media/...``), e.g. for
    Twilio to fetch a photo staff sent to a WhatsApp citizen. A link stops working after ``ttl_minutes``."""

    ttl_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)


class MapConfig(_Strict):
    """The dashboard's map (Leaflet, vendored). Tiles come from ``tile_url`` in the visitor's browser; with
    none reachable the map still shows the city's boundaries and the pins. OpenStreetMap's standard tiles are
    the default, within their usage policy (light use, attribution shown); a busy command centre should use
    its own tile server or a provider's."""

    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    attribution: str = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    max_zoom: int = Field(default=19, ge=1, le=22)


class DashboardConfig(_Strict):
    """The command centre's web dashboard under ``/dashboard/`` (issue 13; see :mod:`bot.web`)."""

    #: a session ends this long after sign-in (and at once on ``sikesal user passwd`` / ``disable``)
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    #: addresses (or CIDR networks) of reverse proxies in front of the app: only their X-Forwarded-For is
    #: believed when failed logins are counted per client address; empty = the connecting address counts
    trusted_proxies: list[str] = Field(default_factory=list)
    #: rows per page of the complaint list
    page_size: int = Field(default=50, ge=10, le=500)
    map: MapConfig = Field(default_factory=MapConfig)


class Open311Config(_Strict):
    """The Open311 GeoReport v2 API under ``/open311/v2/`` (see :mod:`bot.open311`)."""

    #: the ``jurisdiction_id`` this endpoint serves (requests may name it; another one is an error)
    jurisdiction_id: str = "jambikota.go.id"
    #: discovery's contact line
    contact: str = "Jambi Command Center (JCOC)"


class PrivacyConfig(_Strict):
    """How long personal data is kept (UU 27/2022 PDP: no longer than needed), purged daily by the scheduler
    at ``purge_at`` (city time; see :mod:`bot.services.retention`).

    ``inactive_citizen_days``: a citizen who has not written for that long loses their personal data (name,
    channel id, stored messages, conversation); their closed complaints stay, anonymised, for statistics
    (a citizen with an open complaint is kept until it closes). ``messages_days``: the text of stored inbound
    messages and outbox payloads older than that is dropped (the rows and their keys stay, so a redelivered
    update is still recognised). 0 switches a rule off."""

    inactive_citizen_days: int = Field(default=730, ge=0, le=36500)
    messages_days: int = Field(default=90, ge=0, le=36500)
    purge_at: str = Field(default="02:30", pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$")


_HHMM = r"(?:[01]\d|2[0-3]):[0-5]\d"
#: ``"07:30-16:00"``: one span of a working day, city time
_SPAN = re.compile(rf"^({_HHMM})-({_HHMM}|24:00)$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _check_spans(spans: list[str]) -> list[str]:
    last = ""
    for span in spans:
        found = _SPAN.fullmatch(span.replace(" ", ""))
        if found is None:
            raise ValueError(f"{span!r} must look like 07:30-16:00")
        start, end = found.groups()
        if end <= start or start < last:
            raise ValueError(f"{span!r} must end after it starts, and spans must be in order")
        last = end
    return [s.replace(" ", "") for s in spans]


class OfficeHoursOverride(_Strict):
    """Different office hours between two dates, both included (e.g. Ramadan)."""

    start: date = Field(alias="from")
    until: date
    hours: dict[str, list[str]]

    @field_validator("hours")
    @classmethod
    def _days(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day in value:
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not one of {', '.join(WEEKDAYS)}")
        return {day: _check_spans(spans) for day, spans in value.items()}

    @model_validator(mode="after")
    def _order(self) -> OfficeHoursOverride:
        if self.until < self.start:
            raise ValueError("until must not be before from")
        return self


def _default_office_hours() -> dict[str, list[str]]:
    """A regional government office's five-day week, with the shorter Friday (Friday prayers)."""
    week = {day: ["07:30-16:00"] for day in ("mon", "tue", "wed", "thu")}
    return {**week, "fri": ["07:30-11:30", "13:30-16:30"]}


class DeadlinesConfig(_Strict):
    """The clocks, reminders and escalation (issue 11). Hours may be fractions (``0.02`` is 72 s), so a
    city can watch the whole loop in minutes with a copy of its config."""

    #: a complaint still *baru* this long after it reached its agency gets a reminder in the group
    accept_hours: float = Field(default=4, gt=0)
    #: ``hours``: clocks run round the clock; ``office``: only in office hours (below), skipping holidays
    calendar: Literal["hours", "office"] = "hours"
    #: per weekday (mon..sun), spans of city time; a day not listed is closed
    office_hours: dict[str, list[str]] = Field(default_factory=_default_office_hours)
    #: dated exceptions, e.g. Ramadan hours
    overrides: list[OfficeHoursOverride] = Field(default_factory=list)
    #: national holidays and *cuti bersama* (decreed each year): no office hours on these dates
    holidays: list[date] = Field(default_factory=list)
    #: agencies whose clocks run round the clock even with ``calendar: office`` (e.g. the water utility)
    round_the_clock: list[str] = Field(default_factory=list)
    #: reminders, digests and escalations falling in this span (city time) wait for its end; "" = never
    quiet_hours: str = "21:00-06:00"
    #: the reminder before the resolve deadline, this long before it (0: none)
    remind_before_hours: float = Field(default=6, ge=0)
    #: escalation levels to the command centre, hours after the resolve deadline (0 = at the deadline)
    escalate_after_hours: list[float] = Field(default_factory=lambda: [0.0, 24.0])
    #: the command centre's agency (its linked group gets escalations); default: routing.fallback_agency
    command_centre: str | None = None
    #: the daily digest per agency group and for the city, city time; "" = no digest
    digest_at: str = "07:30"
    #: tell the citizen once, kindly, that the agency was reminded of their overdue complaint
    tell_citizen_overdue: bool = True
    #: this many reminders due for one group at the same time are folded into one message
    fold_at: int = Field(default=3, ge=2)

    @field_validator("office_hours")
    @classmethod
    def _week(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day in value:
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not one of {', '.join(WEEKDAYS)}")
        return {day: _check_spans(spans) for day, spans in value.items()}

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        value = value.replace(" ", "")
        if value and not re.fullmatch(rf"{_HHMM}-{_HHMM}", value):
            raise ValueError(f"{value!r} must look like 21:00-06:00, or be empty")
        return value

    @field_validator("digest_at")
    @classmethod
    def _digest(cls, value: str) -> str:
        if value and not re.fullmatch(_HHMM, value):
            raise ValueError(f"{value!r} must look like 07:30, or be empty")
        return value

    @field_validator("escalate_after_hours")
    @classmethod
    def _levels(cls, value: list[float]) -> list[float]:
        if any(v < 0 for v in value) or value != sorted(set(value)):
            raise ValueError("levels must be hours >= 0 in increasing order")
        return value

    @model_validator(mode="after")
    def _open_some_time(self) -> DeadlinesConfig:
        if self.calendar == "office" and not any(self.office_hours.values()):
            raise ValueError("calendar: office needs office_hours on at least one day")
        return self


class FollowupConfig(_Strict):
    """After *Selesai*: the citizen is asked whether the problem is fixed; *Belum* reopens within
    ``reopen_within_days``; no answer closes it after ``confirm_within_days``; a rejection can be appealed."""

    confirm_within_days: float = Field(default=7, gt=0)
    reopen_within_days: float = Field(default=14, gt=0)
    appeal: bool = True


class DeliveryConfig(_Strict):
    global_per_second: float = Field(default=30, gt=0)
    private_per_second: float = Field(default=1, gt=0)
    group_per_minute: float = Field(default=20, gt=0)
    #: a transient failure (network, Telegram or Twilio down, 5xx) is retried for at least this long
    #: before the message is given up; a card must reach its agency after a long outage
    retry_hours: float = Field(default=48, gt=0)
    #: the first retry waits this long, doubling up to ``backoff_cap_seconds`` (tests scale both down)
    backoff_base_seconds: float = Field(default=1, gt=0)
    backoff_cap_seconds: float = Field(default=120, gt=0)


_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")


class TemplateConfig(_Strict):
    """An approved WhatsApp template (Twilio Content API), one content SID per language."""

    content_sid: LocalizedText

    @field_validator("content_sid")
    @classmethod
    def _sids(cls, value: dict[str, str]) -> dict[str, str]:
        for language, sid in value.items():
            if language not in ("id", "en"):
                raise ValueError(f"language {language!r} must be id or en")
            if not _CONTENT_SID.fullmatch(sid):
                raise ValueError(f"{language}: {sid!r} is not a content SID (HX followed by 32 characters)")
        return value

    def sid_for(self, language: str) -> str | None:
        return self.content_sid.get(language) or next(iter(self.content_sid.values()), None)


class TelegramConfig(_Strict):
    """The Telegram channel. Long polling by default; with ``TELEGRAM_WEBHOOK=true`` Telegram posts updates
    to ``SIKESAL_PUBLIC_URL + webhook_path`` on the same web server as the WhatsApp webhooks."""

    webhook_path: str = Field(default="/telegram/webhook", pattern=r"^/[A-Za-z0-9/_.-]*$")


class WhatsAppConfig(_Strict):
    """The WhatsApp channel (Twilio). Credentials come from the environment (TWILIO_*), not from here."""

    webhook_path: str = Field(default="/twilio/whatsapp", pattern=r"^/[A-Za-z0-9/_.-]*$")
    status_path: str = Field(default="/twilio/status", pattern=r"^/[A-Za-z0-9/_.-]*$")
    #: our own pace towards Twilio's Messages API (Twilio queues beyond its per-sender throughput anyway)
    messages_per_second: float = Field(default=10, gt=0, le=80)
    #: a status notification outside the 24-hour customer-service window needs an approved template:
    #: variables {{1}} tracking number, {{2}} new status, {{3}} agency
    status_template: TemplateConfig | None = None
    #: "Apakah masalahnya sudah beres?" outside the window, with Quick Reply buttons whose ids carry the
    #: complaint: {{1}} tracking number, {{2}} agency
    resolution_template: TemplateConfig | None = None
    #: "your complaint is overdue, the agency was reminded" outside the window: {{1}} number, {{2}} agency
    overdue_template: TemplateConfig | None = None
    #: optional quick-reply / list templates used instead of numbered menus, by menu name
    #: (lang, menu, draft, cat, photo, sum, edit, show: the button payload prefix)
    menu_templates: dict[str, TemplateConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _paths(self) -> WhatsAppConfig:
        if self.webhook_path == self.status_path:
            raise ValueError("webhook_path and status_path must differ")
        return self


class AgencyConfig(_Strict):
    name: LocalizedText
    short: str = ""


class CategoryConfig(_Strict):
    emoji: str = ""
    label: LocalizedText
    agency: str
    #: the resolve clock, from filing (fractions allowed: 0.5 is 30 minutes)
    target_hours: float = Field(default=72, gt=0)
    photo_required: bool = False
    #: Selesai asks the clerk for an "after" photo: required, optional (may be skipped) or off
    proof_photo: Literal["required", "optional", "off"] = "optional"

    @field_validator("proof_photo", mode="before")
    @classmethod
    def _unquoted_off(cls, value: object) -> object:
        """YAML reads an unquoted ``off`` as false: that is what the city meant."""
        return "off" if value is False else value


class RoutingRule(_Strict):
    """``category``, ``kecamatan`` or both -> ``agency``; the first matching rule wins."""

    agency: str
    category: str | None = None
    kecamatan: str | None = None

    @model_validator(mode="after")
    def _something(self) -> RoutingRule:
        if self.category is None and self.kecamatan is None:
            raise ValueError("a rule needs a category, a kecamatan or both")
        return self


class GeocoderConfig(_Strict):
    """Nominatim (OpenStreetMap) for turning pins into street names; a city may run its own.
    ``NOMINATIM_URL`` in the environment overrides ``scheme`` and ``domain``."""

    enabled: bool = True
    domain: str = "nominatim.openstreetmap.org"
    scheme: str = Field(default="https", pattern=r"^https?$")
    #: Nominatim's usage policy asks for an identifying user agent (with a contact)
    user_agent: str = Field(default="SiKesal Kota Jambi complaint service", min_length=8)
    timeout_seconds: float = Field(default=3.0, gt=0, le=10)


class GeographyConfig(_Strict):
    #: GeoJSON with the city boundary and its kecamatan (and kelurahan); None = the bundled approximate
    #: sample for Kota Jambi (routing/data/kota_jambi.geojson). A relative path is relative to config.yaml.
    areas: Path | None = None
    geocoder: GeocoderConfig = Field(default_factory=GeocoderConfig)
    #: open complaints of the same category closer than this are offered as "the same problem?"
    duplicate_radius_m: float = Field(default=50, gt=0, le=1000)


class RoutingConfig(_Strict):
    fallback_agency: str
    rules: list[RoutingRule] = Field(default_factory=list)


class AppConfig(_Strict):
    city: CityConfig = Field(default_factory=CityConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    drafts: DraftsConfig = Field(default_factory=DraftsConfig)
    link_codes: LinkCodesConfig = Field(default_factory=LinkCodesConfig)
    relay: RelayConfig = Field(default_factory=RelayConfig)
    abuse: AbuseConfig = Field(default_factory=AbuseConfig)
    media_links: MediaLinksConfig = Field(default_factory=MediaLinksConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    geography: GeographyConfig = Field(default_factory=GeographyConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    whatsapp: WhatsAppConfig = Field(default_factory=WhatsAppConfig)
    deadlines: DeadlinesConfig = Field(default_factory=DeadlinesConfig)
    followup: FollowupConfig = Field(default_factory=FollowupConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    open311: Open311Config = Field(default_factory=Open311Config)
    #: ready answers staff send with one tap ("💬 Balasan cepat"): ``default`` for every agency, or per
    #: agency key (which replaces the default set for that agency; an empty list: none for it)
    canned_replies: dict[str, list[str]] = Field(default_factory=lambda: {"default": list(DEFAULT_CANNED)})
    agencies: dict[str, AgencyConfig]
    categories: dict[str, CategoryConfig]
    routing: RoutingConfig

    @field_validator("agencies", "categories")
    @classmethod
    def _keys_are_short_ascii(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not key.isascii() or not key.replace("_", "").isalnum() or len(key) > 20:
                raise ValueError(f"key {key!r} must be short ascii letters/digits (used in button data)")
        if not value:
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _references(self) -> AppConfig:
        problems: list[str] = []
        for key, category in self.categories.items():
            if category.agency not in self.agencies:
                problems.append(f"categories.{key}.agency: unknown agency {category.agency!r}")
        for key in self.deadlines.round_the_clock:
            if key not in self.agencies:
                problems.append(f"deadlines.round_the_clock: unknown agency {key!r}")
        if self.deadlines.command_centre is not None and self.deadlines.command_centre not in self.agencies:
            problems.append(f"deadlines.command_centre: unknown agency {self.deadlines.command_centre!r}")
        for key, replies in self.canned_replies.items():
            if key != "default" and key not in self.agencies:
                problems.append(f"canned_replies.{key}: unknown agency (use an agency key or default)")
            if any(not r.strip() or len(r) > 1000 for r in replies):
                problems.append(f"canned_replies.{key}: every reply must be 1-1000 characters")
        if self.routing.fallback_agency not in self.agencies:
            problems.append(f"routing.fallback_agency: unknown agency {self.routing.fallback_agency!r}")
        for i, rule in enumerate(self.routing.rules):
            if rule.category is not None and rule.category not in self.categories:
                problems.append(f"routing.rules.{i}.category: unknown category {rule.category!r}")
            if rule.agency not in self.agencies:
                problems.append(f"routing.rules.{i}.agency: unknown agency {rule.agency!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def command_centre(self) -> str:
        """The command centre's agency key: escalations, appeals and the city digest go to its group."""
        return self.deadlines.command_centre or self.routing.fallback_agency

    def canned_for(self, agency: str) -> list[str]:
        """The ready answers offered on ``agency``'s cards."""
        if agency in self.canned_replies:  # an empty list switches them off for this agency
            return self.canned_replies[agency]
        return self.canned_replies.get("default", [])

    @property
    def draft_remind_after(self) -> timedelta:
        return timedelta(minutes=self.drafts.remind_after_minutes)

    @property
    def draft_discard_after(self) -> timedelta:
        return timedelta(minutes=self.drafts.discard_after_minutes)

    def flow_context(self, catalog: Catalog | None = None) -> FlowContext:
        """The conversation core's view of this configuration."""
        return FlowContext(
            categories=tuple(
                CategoryInfo(
                    key=key,
                    emoji=c.emoji,
                    labels=dict(c.label),
                    photo_required=c.photo_required,
                    target_hours=c.target_hours,
                )
                for key, c in self.categories.items()
            ),
            agencies=tuple(
                AgencyInfo(key=key, names=dict(a.name), short=a.short) for key, a in self.agencies.items()
            ),
            catalog=catalog or Catalog.load(default_language=self.city.default_language),
            limits=Limits(
                description_min=self.limits.description_min,
                description_max=self.limits.description_max,
                photos_max=self.limits.photos_max,
                photo_max_bytes=int(self.limits.photo_max_mb * 1024 * 1024),
                address_min=self.limits.address_min,
                address_max=self.limits.address_max,
            ),
            city_name=self.city.name,
            timezone=self.city.timezone,
            tracking_prefix=self.city.tracking_prefix,
            canned_agencies=frozenset(key for key in self.agencies if self.canned_for(key)),
            retention_days=(self.privacy.inactive_citizen_days, self.privacy.messages_days),
        )


class Settings(BaseSettings):
    """Secrets and endpoints from the environment (or a ``.env`` file)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN", repr=False)
    telegram_api_base: str | None = Field(default=None, alias="TELEGRAM_API_BASE")
    database_url: str | None = Field(default=None, alias="DATABASE_URL", repr=False)
    config_path: Path = Field(default=Path("config.yaml"), alias="SIKESAL_CONFIG")
    data_dir: Path = Field(default=Path("data"), alias="SIKESAL_DATA_DIR")
    log_level: str = Field(default="INFO", alias="SIKESAL_LOG_LEVEL")
    playground_host: str = Field(default="127.0.0.1", alias="SIKESAL_PLAYGROUND_HOST")
    playground_port: int = Field(default=8080, alias="SIKESAL_PLAYGROUND_PORT")
    telegram_webhook: bool = Field(default=False, alias="TELEGRAM_WEBHOOK")
    #: Redis for Telegram's limits shared by every process of the bot (redis://127.0.0.1:6379/0); without it
    #: each process counts its own sends, which is right for one process only
    redis_url: str | None = Field(default=None, alias="SIKESAL_REDIS_URL", repr=False)
    telegram_webhook_secret: str | None = Field(
        default=None, alias="TELEGRAM_WEBHOOK_SECRET", repr=False, pattern=r"^[A-Za-z0-9_-]{1,256}$"
    )
    nominatim_url: str | None = Field(default=None, alias="NOMINATIM_URL")
    twilio_account_sid: str | None = Field(default=None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(default=None, alias="TWILIO_AUTH_TOKEN", repr=False)
    twilio_whatsapp_from: str | None = Field(default=None, alias="TWILIO_WHATSAPP_FROM")
    twilio_api_base: str | None = Field(default=None, alias="TWILIO_API_BASE")
    http_host: str = Field(default="0.0.0.0", alias="SIKESAL_HTTP_HOST")
    http_port: int = Field(default=8080, alias="SIKESAL_HTTP_PORT")
    public_url: str | None = Field(default=None, alias="SIKESAL_PUBLIC_URL")
    #: signs the expiring links to stored photos (``/media/...``, see bot.media_links); every process of a
    #: deployment needs the same value. Unset: derived from TELEGRAM_BOT_TOKEN (changing the token then
    #: ends the links handed out before, which live an hour by default anyway)
    media_secret: str | None = Field(default=None, alias="SIKESAL_MEDIA_SECRET", repr=False, min_length=16)
    #: the dashboard's session-cookie key: 32 random bytes in URL-safe base64 (bot.web.secret); unset: one
    #: process keeps its own in the data directory. Required with PostgreSQL (every process needs the same)
    secret_key: str | None = Field(default=None, alias="SIKESAL_SECRET_KEY", repr=False)
    #: Prometheus /metrics, one server per process on its own address (never the public webhook server):
    #: a port number, 0 = any free port (logged), ``off`` (or empty) = no metrics server
    metrics_host: str = Field(default="127.0.0.1", alias="SIKESAL_METRICS_HOST")
    metrics_port: int | None = Field(default=9464, alias="SIKESAL_METRICS_PORT", ge=0, le=65535)

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _metrics_off(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "off", "no", "false", "none")):
            return None
        return value

    def twilio(self) -> TwilioSettings | None:
        """The WhatsApp channel's credentials, or None when it is not configured.

        Raises :class:`ConfigError` naming the missing variables when only some are set: half a
        configuration is a mistake worth stopping for, not a reason to silently run without WhatsApp.
        """
        values = {
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
            "TWILIO_WHATSAPP_FROM": self.twilio_whatsapp_from,
        }
        missing = [name for name, value in values.items() if not value]
        if len(missing) == len(values):
            return None
        if missing:
            raise ConfigError(f"WhatsApp is half configured: set {', '.join(missing)} (or unset all TWILIO_* variables)")
        sender = str(self.twilio_whatsapp_from)
        if not sender.startswith("whatsapp:+"):
            raise ConfigError(f"TWILIO_WHATSAPP_FROM: {sender!r} must look like whatsapp:+14155238886")
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise ConfigError(f"SIKESAL_PUBLIC_URL: {self.public_url!r} must start with https:// (or http://)")
        return TwilioSettings(
            account_sid=str(self.twilio_account_sid),
            auth_token=str(self.twilio_auth_token),
            whatsapp_from=sender,
            api_base=self.twilio_api_base.rstrip("/") if self.twilio_api_base else None,
            public_url=self.public_url.rstrip("/") if self.public_url else None,
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # accept the URLs hosting providers hand out and pick the async drivers
            for prefix, replacement in (
                ("postgres://", "postgresql+asyncpg://"),
                ("postgresql://", "postgresql+asyncpg://"),
                ("sqlite:///", "sqlite+aiosqlite:///"),
            ):
                if url.startswith(prefix):
                    return replacement + url[len(prefix) :]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'sikesal.db').resolve()}"

    @property
    def playground_database_url(self) -> str:
        """The playground's own throwaway database: emptied at every start and reset, never the real one."""
        return f"sqlite+aiosqlite:///{(self.data_dir / 'playground.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    """What the WhatsApp adapter needs from the environment. ``repr`` hides the auth token."""

    account_sid: str
    auth_token: str = field(repr=False)
    whatsapp_from: str
    #: a Twilio-compatible server instead of https://api.twilio.com (tests, the playground)
    api_base: str | None = None
    #: the URL Twilio reaches us at (signatures are computed over it); None = as the request says
    public_url: str | None = None


def _format_validation_error(path: Path, error: ValidationError) -> str:
    lines: list[str] = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        if not location and item["type"] == "value_error":
            # cross-references (AppConfig._references): "key.path: problem; key.path: problem"
            lines.extend(f"{path}: {problem}" for problem in str(item["ctx"]["error"]).split("; "))
            continue
        lines.append(f"{path}: {location or '(top level)'}: {message}")
    return "\n".join(lines)


def load_config(path: Path) -> AppConfig:
    """Read and validate config.yaml; raise :class:`ConfigError` naming the bad key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found (set SIKESAL_CONFIG to the configuration file)") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        config = AppConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(path, exc)) from exc
    areas = config.geography.areas
    if areas is not None and not areas.is_absolute():
        geography = config.geography.model_copy(update={"areas": (path.parent / areas).resolve()})
        config = config.model_copy(update={"geography": geography})
    check_areas(config, path)
    return config


def geocoder_settings(config: AppConfig, nominatim_url: str | None, area: ServiceArea) -> GeocoderSettings | None:
    """Nominatim settings from ``geography.geocoder``; ``NOMINATIM_URL`` overrides scheme and domain the
    way ``TELEGRAM_API_BASE`` does. Searches are bounded to the city's own bounds. None = switched off."""
    conf = config.geography.geocoder
    if not conf.enabled:
        return None
    min_lat, min_lon, max_lat, max_lon = area.bounds
    common: dict[str, Any] = {
        "user_agent": conf.user_agent,
        "timeout": conf.timeout_seconds,
        "viewbox": ((min_lat, min_lon), (max_lat, max_lon)),
    }
    try:
        if nominatim_url:
            return GeocoderSettings.from_url(nominatim_url, **common)
        return GeocoderSettings(domain=conf.domain, scheme=conf.scheme, **common)
    except ValueError as exc:
        source = "NOMINATIM_URL" if nominatim_url else "geography.geocoder"
        raise ConfigError(f"{source}: {exc}") from exc


def load_service_area(config: AppConfig) -> ServiceArea:
    """The city's districts from ``geography.areas`` (or the bundled sample)."""
    return ServiceArea.load(config.geography.areas or SAMPLE_GEOJSON)


def check_areas(config: AppConfig, path: Path | str = "config.yaml") -> ServiceArea:
    """Load the GeoJSON and check that every kecamatan a routing rule names exists in it."""
    try:
        area = load_service_area(config)
    except GeoDataError as exc:
        raise ConfigError(f"{path}: geography.areas: {exc}") from exc
    known = {name.casefold() for name in area.district_names()}
    problems = [
        f"{path}: routing.rules.{i}.kecamatan: unknown kecamatan {rule.kecamatan!r}"
        f" (known: {', '.join(area.district_names())})"
        for i, rule in enumerate(config.routing.rules)
        if rule.kecamatan is not None and rule.kecamatan.casefold() not in known
    ]
    if problems:
        raise ConfigError("\n".join(problems))
    return area


def build_router(config: AppConfig) -> Router:
    """The routing table for this configuration (validated names only)."""
    return Router(
        rules=tuple(Rule(agency=r.agency, category=r.category, kecamatan=r.kecamatan) for r in config.routing.rules),
        category_agency={key: c.agency for key, c in config.categories.items()},
        fallback_agency=config.routing.fallback_agency,
    )
