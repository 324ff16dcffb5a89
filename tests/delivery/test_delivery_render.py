"""OutMessage -> aiogram objects, without a server."""

from __future__ import annotations

from aiogram.types import ForceReply, InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.delivery import render
from handlers.events import MediaRef
from handlers.messages import Button, KeyboardButton, OutMessage


def photos(n: int) -> tuple[MediaRef, ...]:
    return tuple(MediaRef(sha256=f"{i:064x}") for i in range(n))


def test_inline_buttons_win_and_carry_the_payload() -> None:
    msg = OutMessage(
        "x",
        buttons=((Button("Terima", "acc:1"), Button("Tolak", "rej:1")),),
        keyboard=((KeyboardButton("a"),),),
        force_reply=True,
    )
    markup = render.reply_markup(msg)
    assert isinstance(markup, InlineKeyboardMarkup)
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [["acc:1", "rej:1"]]
    assert render.inline_markup(OutMessage("x")) is None


def test_reply_keyboard_with_location_request() -> None:
    msg = OutMessage("x", keyboard=((KeyboardButton("📍 Kirim lokasi", request_location=True),), (KeyboardButton("Lewati"),)))
    markup = render.reply_markup(msg)
    assert isinstance(markup, ReplyKeyboardMarkup)
    assert markup.resize_keyboard and markup.one_time_keyboard
    assert markup.keyboard[0][0].request_location is True
    assert markup.keyboard[1][0].request_location is None


def test_remove_keyboard_and_force_reply() -> None:
    assert isinstance(render.reply_markup(OutMessage("x", remove_keyboard=True)), ReplyKeyboardRemove)
    forced = render.reply_markup(OutMessage("x", force_reply=True))
    assert isinstance(forced, ForceReply) and forced.selective is True
    assert render.reply_markup(OutMessage("x")) is None


def test_reply_parameters_allow_missing_target() -> None:
    params = render.reply_parameters(7)
    assert params is not None and params.message_id == 7 and params.allow_sending_without_reply is True
    assert render.reply_parameters(None) is None


def test_visible_length_ignores_tags_and_counts_entities_once() -> None:
    assert render.telegram_length("<b>a&amp;b</b> <a href=\"https://x.y/\">peta</a>") == len("a&b peta")
    assert render.telegram_length("😀") == 2  # UTF-16, like Telegram


def test_plan_single_photo_caption_or_separate_text() -> None:
    short = render.plan(OutMessage("<b>" + "x" * 1024 + "</b>", photos=photos(1)))
    assert short.photo_groups == ((0,),) and short.caption_on_photo and short.card_kind == "photo"
    long = render.plan(OutMessage("x" * 1025, photos=photos(1)))
    assert long.photo_groups == ((0,),) and not long.caption_on_photo and long.card_kind == "text"


def test_plan_albums() -> None:
    assert render.plan(OutMessage("x")).photo_groups == ()
    assert render.plan(OutMessage("x", photos=photos(3))).photo_groups == ((0, 1, 2),)
    eleven = render.plan(OutMessage("x", photos=photos(11)))
    assert [len(g) for g in eleven.photo_groups] == [9, 2]
    assert eleven.photo_count == 11 and not eleven.caption_on_photo
    assert [len(g) for g in render.plan(OutMessage("x", photos=photos(20))).photo_groups] == [10, 10]
    assert render.plan(OutMessage("x", photos=photos(3)), photo_count=1).caption_on_photo
