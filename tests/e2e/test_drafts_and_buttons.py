"""Citizens never lose work without saying so, end to end (real aiogram Bot / real twilio client against
the local servers, on SQLite and PostgreSQL):

* "Buat Pengaduan" from an old welcome menu, /baru and an old category list ask "Lanjutkan draf / Mulai
  baru" before a draft with progress goes; only "Mulai baru" discards it;
* a photo sent before the filing started is still in the draft after "Buat Pengaduan"; its caption is
  offered as the description ("Pakai keterangan foto");
* used buttons are taken off; a press from an older message gets "Tombol itu dari pesan lama" and the
  current step, never an action on stale context; a message from before payloads were versioned too;
* "Tampilkan nama saya" edits the summary in place (Telegram) or sends a new one (WhatsApp);
* "📍 Lokasi diterima." and the summary are one message, and the location keyboard is gone.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import func, select

from handlers.state import Conversation
from localapi.telegram import make_jpeg
from storage.models import Citizen, Complaint, ConversationRow
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, outbox_settled
from tests.e2e.harness import Person, WhatsAppPerson, body, choose, options, payloads, text_of

pytestmark = pytest.mark.e2e

JAMBI = (-1.6101, 103.6131)
CAPTION = "Sampah menumpuk di depan pasar sejak kemarin sore"
DESCRIPTION = "Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor"


async def conversation(world: World, user_id: str) -> Conversation:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        row = (
            await uow.session.execute(
                select(ConversationRow)
                .join(Citizen, Citizen.id == ConversationRow.citizen_id)
                .where(Citizen.channel_user_id == user_id)
            )
        ).scalar_one()
        return Conversation.from_dict(row.state)


async def complaints(world: World) -> int:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(Complaint))).scalar_one())


async def to_summary(citizen: Person) -> Any:
    """/start -> Buat Pengaduan -> Sampah -> description -> one photo -> done -> pin: the summary."""
    await citizen.say("/start")
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read("cat:sampah")
    await citizen.say(CAPTION)
    await citizen.photo(make_jpeg())
    await citizen.tap_and_read("photo:done")
    return await citizen.location(*JAMBI)


# --- Telegram -----------------------------------------------------------------------------------------


async def test_an_early_photo_and_its_caption_survive_and_a_draft_goes_only_when_confirmed(world: World) -> None:
    citizen = world.citizen()
    welcome = await citizen.say("/start")
    kept = await citizen.photo(make_jpeg(), caption=CAPTION)
    assert "Foto disimpan" in body(kept) and "cat:sampah" in payloads(kept)

    # the welcome menu far up the chat: the photo is carried into the complaint, and the citizen is told
    started = await citizen.tap_and_read("menu:new", welcome)
    assert "tetap tersimpan" in body(started) and "1 foto" in body(started)
    assert "belum terkirim" not in body(started)
    assert payloads(welcome) == [], "the welcome menu's buttons did their job and are taken off"

    offered = await citizen.tap_and_read("cat:sampah", started)
    assert CAPTION in body(offered) and payloads(offered) == ["desc:caption"], "the caption is offered, not used"
    where = await citizen.tap_and_read("desc:caption", offered)  # the photo is there: on to the location
    assert "request_location" in str(where.reply_markup) and payloads(offered) == []

    summary = await citizen.location(*JAMBI)
    assert body(summary).startswith("📍 Lokasi diterima.") and "Periksa pengaduan" in body(summary)
    assert "sum:send" in payloads(summary) and citizen.reply_keyboard is None, "one message, keyboard gone"
    assert CAPTION in body(summary) and "Foto: 1" in body(summary)

    # "show my name" changes this summary in place: no second summary
    await citizen.tap("sum:name", summary)
    await outbox_settled(world)
    assert await citizen.quiet(0.3) == []
    assert "ditampilkan</b>" in (summary.html or "") or "ditampilkan ke petugas" in body(summary)
    assert any("Sembunyikan" in str(b.get("text")) for b in summary.buttons())

    # the welcome menu again (a client still showing it): asked first, nothing lost
    asked = await citizen.tap_and_read("menu:new", welcome)
    assert "belum terkirim" in body(asked) and set(payloads(asked)) == {"draft:continue", "new:"}
    again = await citizen.tap_and_read("draft:continue", asked)
    assert "Periksa pengaduan" in body(again) and payloads(asked) == []
    draft = (await conversation(world, str(citizen.user.id))).draft
    assert draft.description == CAPTION and len(draft.photos) == 1 and draft.share_name

    # /baru asks too; only "Mulai baru" discards
    asked = await citizen.say("/baru")
    assert set(payloads(asked)) == {"draft:continue", "new:"}
    fresh = await citizen.tap_and_read("new:", asked)
    assert "dihapus" in body(fresh) and "cat:jalan" in payloads(fresh)
    state = await conversation(world, str(citizen.user.id))
    assert state.step.value == "category" and state.draft.photos == [] and state.draft.description is None
    assert await complaints(world) == 0


async def test_an_old_summary_cannot_send_and_an_old_category_list_asks(world: World) -> None:
    await world.agency_group("dlh")
    citizen = world.citizen()
    await citizen.say("/start")
    categories = await citizen.tap_and_read("menu:new")
    summary = await to_summary_from(citizen, categories)

    edit_menu = await citizen.tap_and_read("sum:edit", summary)
    current = await citizen.tap_and_read("edit:back", edit_menu)
    old = await citizen.tap("sum:send", summary)  # the summary before "edit", on a client still showing it
    assert old.get("text")
    answer = await citizen.next()
    assert "dari pesan lama" in body(answer) and "sum:send" in payloads(answer)
    assert await complaints(world) == 0

    # a category from the list at the very start: "continue or start over?" first
    asked = await citizen.tap_and_read("cat:jalan", categories)
    assert "belum terkirim" in body(asked) and set(payloads(asked)) == {"draft:continue", "new:jalan"}
    assert (await conversation(world, str(citizen.user.id))).draft.description == CAPTION
    fresh = await citizen.tap_and_read("new:jalan", asked)
    assert "Jalan rusak" in body(fresh) and "Ceritakan masalahnya" in body(fresh)
    state = await conversation(world, str(citizen.user.id))
    assert state.draft.category == "jalan" and state.draft.description is None
    del current


async def to_summary_from(citizen: Person, categories: Any) -> Any:
    await citizen.tap_and_read("cat:sampah", categories)
    await citizen.say(CAPTION)
    await citizen.photo(make_jpeg())
    await citizen.tap_and_read("photo:done")
    return await citizen.location(*JAMBI)


async def test_a_button_from_before_versions_is_old(world: World) -> None:
    await world.agency_group("dlh")
    citizen = world.citizen()
    await to_summary(citizen)
    # a summary the bot sent before its payloads carried a version (the data as it was then)
    assert world.app.bot is not None
    legacy = await world.app.bot.send_message(
        citizen.chat_id, "📋 Periksa pengaduan Anda (lama)",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="📨 Kirim", callback_data="sum:send")]]),
    )
    citizen.cursor = legacy.message_id
    citizen.user.press_button(legacy.message_id, "sum:send")
    answer = await citizen.next()
    assert "dari pesan lama" in body(answer) and "sum:send" in payloads(answer)
    assert await complaints(world) == 0
    await citizen.tap_and_read("sum:send", answer)
    assert await complaints(world) == 1


# --- WhatsApp -------------------------------------------------------------------------------------------


async def test_whatsapp_keeps_an_early_photo_offers_its_caption_and_asks_before_starting_over(
    wa_world: World,
) -> None:
    citizen: WhatsAppPerson = wa_world.whatsapp_citizen()
    await citizen.say("halo")
    kept = await citizen.photo(make_jpeg(), caption=CAPTION)
    assert "Foto disimpan" in text_of(kept)
    started = await citizen.say("baru")  # numbers mean the last menu (categories): the command word
    assert "tetap tersimpan" in text_of(started) and "belum terkirim" not in text_of(started)
    offered = await choose(citizen, "Sampah")
    assert CAPTION in text_of(offered) and any("keterangan foto" in o for o in options(offered))
    await choose(citizen, "keterangan foto")  # the photo is there: on to the location
    summary = await citizen.location(*JAMBI)
    assert text_of(summary).startswith("📍 Lokasi diterima.") and "Periksa pengaduan" in text_of(summary)

    # WhatsApp cannot edit a message: "show my name" sends the summary again, changed
    shown = await choose(citizen, "Tampilkan nama")
    assert "Periksa pengaduan" in text_of(shown) and any("Sembunyikan" in o for o in options(shown))

    asked = await citizen.say("/baru")
    assert "belum terkirim" in text_of(asked)
    assert [o for o in options(asked)] == ["▶️ Lanjutkan draf", "🆕 Mulai baru"]
    back = await choose(citizen, "Lanjutkan draf")
    assert "Periksa pengaduan" in text_of(back)
    draft = (await conversation(wa_world, citizen.number)).draft
    assert draft.description == CAPTION and len(draft.photos) == 1 and draft.share_name

    await citizen.say("/baru")
    fresh = await choose(citizen, "Mulai baru")
    assert "dihapus" in text_of(fresh)
    state = await conversation(wa_world, citizen.number)
    assert state.step.value == "category" and state.draft.photos == []
