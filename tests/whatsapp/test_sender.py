"""The WhatsApp sender end to end: the real twilio Client (async http) against the local Twilio server, a
real database (SQLite, and PostgreSQL when configured), and the outbox in between. What is checked is what
the citizen's phone shows and what the agency and the operator can see afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.rest import Client

from bot.config import AppConfig, TemplateConfig, TwilioSettings, WhatsAppConfig
from bot.delivery.whatsapp import WhatsAppSender
from bot.services.runtime import Runtime
from bot.whatsapp.render import MAX_BODY, render_whatsapp
from handlers.lifecycle import status_label
from handlers.messages import Button, OutMessage
from handlers.views import agency_display
from localapi.twilio import TwilioServer
from storage.models import Card, Citizen, Complaint, MessageLink, MessageReceipt, OutboxMessage, utcnow
from storage.outbox import KIND_EDIT_CARD
from storage.uow import UnitOfWork
from tests.whatsapp.conftest import CITIZEN, WHATSAPP_FROM

SM = async_sessionmaker[AsyncSession]
MakeSender = Callable[..., WhatsAppSender]
TEMPLATE_ID = "HX" + "1d" * 16
TEMPLATE_EN = "HX" + "e2" * 16
SUMMARY_MENU = (
    (Button("📨 Kirim", "sum:send"),),
    (Button("✏️ Ubah", "sum:edit"), Button("❌ Batal", "sum:cancel")),
)


@pytest.fixture
def make_sender(runtime: Runtime, twilio_client: Client, twilio_settings: TwilioSettings,
                app_config: AppConfig) -> MakeSender:
    """A sender with test-speed timings; ``status_template`` as whatsapp.status_template in config.yaml."""

    def make(status_template: TemplateConfig | None = None, **kw: Any) -> WhatsAppSender:
        config: WhatsAppConfig = app_config.whatsapp.model_copy(update={"status_template": status_template})
        options: dict[str, Any] = {"poll_interval": 0.05, "backoff_base": 0.01, "clock": runtime.clock}
        options.update(kw)
        return WhatsAppSender(runtime, twilio_client, twilio_settings, config, **options)

    return make


async def make_citizen(sm: SM, twilio: TwilioServer, *, number: str = CITIZEN, hours_ago: float = 0.1,
                       language: str = "id") -> Citizen:
    """A WhatsApp citizen whose last message to us was ``hours_ago`` hours ago (on both clocks)."""
    async with UnitOfWork(sm) as uow:
        citizen = await uow.citizens.get_or_create("whatsapp", number, display_name="Siti", language=language)
        await uow.citizens.touch_inbound(citizen, utcnow() - timedelta(hours=hours_ago))
        await uow.commit()
    twilio.create_whatsapp_user(number, "Siti")
    twilio.last_inbound[number] = twilio.now() - hours_ago * 3600
    return citizen


async def make_complaint(sm: SM, citizen: Citizen, *, status: str = "diterima", agency: str = "dlh",
                         with_card: bool = False) -> Complaint:
    async with UnitOfWork(sm) as uow:
        complaint = await uow.complaints.create(
            number="JMB-2026-000042", citizen_id=citizen.id, category="sampah",
            description="Sampah menumpuk di pinggir jalan", agency=agency, status=status)
        if with_card:
            card = await uow.cards.create(complaint.id, agency, -100123)
            await uow.cards.set_message(card, 777, "text")
        await uow.commit()
    return complaint


async def enqueue(sm: SM, message: OutMessage, *, chat_id: str = CITIZEN, **kw: Any) -> int:
    async with UnitOfWork(sm) as uow:
        row = await uow.outbox.enqueue("whatsapp", chat_id, message, **kw)
        row_id = row.id
        await uow.commit()
    return row_id


async def get(sm: SM, model: Any, row_id: int) -> Any:
    async with sm() as session:
        row = await session.get(model, row_id)
        assert row is not None
        return row


async def all_of(sm: SM, model: Any) -> list[Any]:
    async with sm() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


def bodies(twilio: TwilioServer, number: str = CITIZEN) -> list[str]:
    return [m.body for m in twilio.messages_to(number)]


def long_text() -> str:
    """About 3500 characters in paragraphs, each one numbered so the order can be checked."""
    return "\n\n".join(f"Paragraf {i:02d}: " + "jalan rusak berlubang " * 6 for i in range(26))


# --- what the citizen receives ----------------------------------------------------------------------------


async def test_a_menu_goes_out_as_one_body_with_a_numbered_list(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender
) -> None:
    await make_citizen(sessionmaker, twilio)
    row_id = await enqueue(sessionmaker, OutMessage("<b>Ringkasan</b> laporan Anda", buttons=SUMMARY_MENU))
    assert await make_sender().drain(5) == 1
    [sent] = twilio.messages_to(CITIZEN)
    assert sent.body == ("*Ringkasan* laporan Anda\n\n1. 📨 Kirim\n2. ✏️ Ubah\n3. ❌ Batal\n"
                         "Balas dengan angka 1–3 atau ketik pilihannya.")
    assert sent.to == f"whatsapp:{CITIZEN}" and sent.resource["from"] == WHATSAPP_FROM
    assert sent.content_sid is None
    row = await get(sessionmaker, OutboxMessage, row_id)
    assert (row.status, row.attempts, row.result_message_ids) == ("sent", 1, [sent.sid])


async def test_a_long_message_goes_out_in_parts_in_order(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender, runtime: Runtime
) -> None:
    await make_citizen(sessionmaker, twilio)
    message = OutMessage(long_text(), buttons=SUMMARY_MENU)
    expected = render_whatsapp(message, language="id", ctx=runtime.ctx).bodies
    row_id = await enqueue(sessionmaker, message)
    await make_sender().drain(5)
    got = bodies(twilio)
    assert got == list(expected) and len(got) >= 3
    assert all(len(body) <= MAX_BODY for body in got)
    numbers = [int(line[9:11]) for body in got for line in body.split("\n\n") if line.startswith("Paragraf")]
    assert numbers == list(range(26)), "every paragraph once, in order"
    assert got[-1].endswith("atau ketik pilihannya."), "the menu comes last"
    row = await get(sessionmaker, OutboxMessage, row_id)
    assert row.result_message_ids == [m.sid for m in twilio.messages_to(CITIZEN)]


@pytest.mark.parametrize("fault", ["network", "rate_limit"])
async def test_a_failure_after_the_first_part_resends_only_the_missing_parts(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender, runtime: Runtime, fault: str
) -> None:
    await make_citizen(sessionmaker, twilio)
    message = OutMessage(long_text())
    expected = list(render_whatsapp(message, language="id", ctx=runtime.ctx).bodies)
    row_id = await enqueue(sessionmaker, message)
    sender = make_sender()
    save_progress = sender._save_progress
    saved: list[list[str]] = []

    async def fault_after_first_part(row: int, ids: list[str]) -> None:
        await save_progress(row, ids)
        saved.append(list(ids))
        if len(saved) == 1:  # part 1 is with Twilio and recorded: now the next call fails
            if fault == "network":
                twilio.fail_network(1)
            else:
                twilio.inject_rate_limit(1)

    sender._save_progress = fault_after_first_part  # type: ignore[method-assign,assignment]
    await sender.drain(5)
    assert bodies(twilio) == expected, "no part twice, none missing, in order"
    assert (twilio.network_failures, twilio.rate_limited) == (0, 0), "the fault did happen"
    row = await get(sessionmaker, OutboxMessage, row_id)
    assert row.status == "sent" and row.attempts == 2
    assert row.result_message_ids == [m.sid for m in twilio.messages_to(CITIZEN)]
    receipts = await all_of(sessionmaker, MessageReceipt)
    assert sorted(r.message_id for r in receipts) == sorted(row.result_message_ids)


async def test_a_rate_limited_send_is_retried_and_delivered(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender
) -> None:
    await make_citizen(sessionmaker, twilio)
    twilio.inject_rate_limit(2)
    row_id = await enqueue(sessionmaker, OutMessage("Laporan Anda sudah kami terima."))
    await make_sender().drain(5)
    assert bodies(twilio) == ["Laporan Anda sudah kami terima."]
    assert twilio.rate_limited == 0
    row = await get(sessionmaker, OutboxMessage, row_id)
    assert (row.status, row.attempts) == ("sent", 3)


# --- the 24-hour window -----------------------------------------------------------------------------------


async def test_outside_the_window_without_template_the_notice_fails_and_the_card_shows_it(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender
) -> None:
    citizen = await make_citizen(sessionmaker, twilio, hours_ago=25)
    complaint = await make_complaint(sessionmaker, citizen, with_card=True)
    row_id = await enqueue(sessionmaker, OutMessage("Status laporan JMB-2026-000042: Diterima"),
                           complaint_id=complaint.id, link_role="notification")
    await make_sender().drain(5)
    assert twilio.messages_to(CITIZEN) == [], "no free text is attempted outside the window"
    row = await get(sessionmaker, OutboxMessage, row_id)
    assert row.status == "failed" and "24-hour window" in (row.last_error or "")
    assert (await get(sessionmaker, Complaint, complaint.id)).citizen_notice_error == "window"
    edits = [r for r in await all_of(sessionmaker, OutboxMessage) if r.kind == KIND_EDIT_CARD]
    cards = await all_of(sessionmaker, Card)
    assert [(e.channel, e.card_id, e.status) for e in edits] == [("telegram", cards[0].id, "pending")], \
        "the agency's card is re-rendered to show the notice did not arrive"


async def test_outside_the_window_a_complaint_without_card_is_marked_and_nothing_else_queued(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender
) -> None:
    citizen = await make_citizen(sessionmaker, twilio, hours_ago=25)
    complaint = await make_complaint(sessionmaker, citizen)
    await enqueue(sessionmaker, OutMessage("Status: Diterima"), complaint_id=complaint.id, link_role="notification")
    await make_sender().drain(5)
    assert (await get(sessionmaker, Complaint, complaint.id)).citizen_notice_error == "window"
    assert [r.kind for r in await all_of(sessionmaker, OutboxMessage)] == ["send"]


async def test_just_inside_the_window_free_text_still_goes(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender
) -> None:
    await make_citizen(sessionmaker, twilio, hours_ago=23.5)
    await enqueue(sessionmaker, OutMessage("Masih di dalam 24 jam"))
    await make_sender().drain(5)
    assert bodies(twilio) == ["Masih di dalam 24 jam"]


@pytest.mark.parametrize(("language", "sid"), [("id", TEMPLATE_ID), ("en", TEMPLATE_EN)])
async def test_outside_the_window_the_status_template_is_sent_with_its_variables(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender, runtime: Runtime, language: str, sid: str
) -> None:
    citizen = await make_citizen(sessionmaker, twilio, hours_ago=25, language=language)
    complaint = await make_complaint(sessionmaker, citizen, status="diterima", agency="dlh")
    row_id = await enqueue(sessionmaker, OutMessage("Status: Diterima"), complaint_id=complaint.id,
                           link_role="notification")
    template = TemplateConfig(content_sid={"id": TEMPLATE_ID, "en": TEMPLATE_EN})
    await make_sender(status_template=template).drain(5)
    [sent] = twilio.messages_to(CITIZEN)
    assert sent.content_sid == sid and sent.body == ""
    variables = json.loads(sent.content_variables or "{}")
    assert variables == {
        "1": "JMB-2026-000042",
        "2": status_label("diterima", language, runtime.ctx),
        "3": agency_display("dlh", language, runtime.ctx),
    }
    if language == "id":
        assert variables["2"] == "📥 Diterima" and variables["3"] == "Dinas Lingkungan Hidup"
    else:
        assert variables["3"] == "Environment Office"
    row = await get(sessionmaker, OutboxMessage, row_id)
    assert row.status == "sent" and row.result_message_ids == [sent.sid]
    assert (await get(sessionmaker, Complaint, complaint.id)).citizen_notice_error is None
    links = await all_of(sessionmaker, MessageLink)
    assert [(lk.channel, lk.chat_id, lk.message_id, lk.complaint_id, lk.role) for lk in links] == [
        ("whatsapp", CITIZEN, sent.sid, complaint.id, "notification")]


async def test_the_template_is_only_for_status_notices(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender
) -> None:
    """A conversation reply outside the window is not turned into a status template: it fails."""
    await make_citizen(sessionmaker, twilio, hours_ago=25)
    row_id = await enqueue(sessionmaker, OutMessage("Pilih kategori", buttons=SUMMARY_MENU))
    await make_sender(status_template=TemplateConfig(content_sid={"id": TEMPLATE_ID})).drain(5)
    assert twilio.messages_to(CITIZEN) == []
    assert (await get(sessionmaker, OutboxMessage, row_id)).status == "failed"


# --- what is recorded ------------------------------------------------------------------------------------


async def test_receipts_and_message_links_are_recorded_for_every_part(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender
) -> None:
    citizen = await make_citizen(sessionmaker, twilio)
    complaint = await make_complaint(sessionmaker, citizen)
    linked = await enqueue(sessionmaker, OutMessage(long_text()), complaint_id=complaint.id, link_role="notification")
    plain = await enqueue(sessionmaker, OutMessage("Terima kasih"))
    await make_sender().drain(5)
    sids = [m.sid for m in twilio.messages_to(CITIZEN)]
    linked_sids = (await get(sessionmaker, OutboxMessage, linked)).result_message_ids
    plain_sids = (await get(sessionmaker, OutboxMessage, plain)).result_message_ids
    assert sids == linked_sids + plain_sids and len(linked_sids) >= 3

    receipts = {r.message_id: r for r in await all_of(sessionmaker, MessageReceipt)}
    assert set(receipts) == set(sids)
    for sid in linked_sids:
        receipt = receipts[sid]
        assert (receipt.channel, receipt.outbox_id, receipt.complaint_id, receipt.chat_id) == (
            "whatsapp", linked, complaint.id, CITIZEN)
        assert receipt.status == "queued", "Twilio's answer to the create call"
    assert (receipts[plain_sids[0]].outbox_id, receipts[plain_sids[0]].complaint_id) == (plain, None)

    links = await all_of(sessionmaker, MessageLink)
    assert [(lk.message_id, lk.complaint_id, lk.role) for lk in links] == [
        (sid, complaint.id, "notification") for sid in linked_sids], "a citizen may swipe-reply to any part"


async def test_a_status_callback_url_is_given_to_twilio(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender
) -> None:
    await make_citizen(sessionmaker, twilio)
    await enqueue(sessionmaker, OutMessage("halo"))
    await make_sender(status_callback="https://sikesal.example.org/twilio/status").drain(5)
    [sent] = twilio.messages_to(CITIZEN)
    assert sent.status_callback == "https://sikesal.example.org/twilio/status"
