"""What a WhatsApp citizen reads: Telegram HTML as WhatsApp markers, menus as numbered lists,
long texts in several bodies with the menu last."""

from __future__ import annotations

import html

import pytest

from bot.whatsapp.render import MAX_BODY, html_to_whatsapp, render_whatsapp, split_bodies
from handlers.events import MediaRef
from handlers.i18n import Catalog
from handlers.messages import Button, KeyboardButton, OutMessage

CATALOG = Catalog.load()

SUMMARY_MENU = (
    (Button("📨 Kirim", "sum:send"),),
    (Button("✏️ Ubah", "sum:edit"), Button("❌ Batal", "sum:cancel")),
)


def render(message: OutMessage, language: str = "id") -> tuple[str, ...]:
    return render_whatsapp(message, language=language, ctx=CATALOG).bodies


# --- formatting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<b>Nomor</b> baru", "*Nomor* baru"),
        ("<strong>x</strong>", "*x*"),
        ("<i>tidak</i> ditampilkan", "_tidak_ ditampilkan"),
        ("<em>x</em>", "_x_"),
        ("<s>lama</s> baru", "~lama~ baru"),
        ("<del>x</del>", "~x~"),
        ("Nomor <code>JMB-2026-000042</code>", "Nomor ```JMB-2026-000042```"),
        ("<pre><code>a\nb</code></pre>", "```a\nb```"),
        ("<u>garis</u> bawah", "garis bawah"),
        ('<a href="https://x.id/a">peta</a>', "peta (https://x.id/a)"),
        ('<a href="https://x.id/a">https://x.id/a</a>', "https://x.id/a"),
        ("satu<br>dua<br/>tiga", "satu\ndua\ntiga"),
        ("<tg-spoiler>rahasia</tg-spoiler> <span>x</span>", "rahasia x"),
        ("<b><i>both</i></b>", "*_both_*"),
    ],
)
def test_telegram_html_becomes_whatsapp_markers(source: str, expected: str) -> None:
    assert html_to_whatsapp(source) == expected


def test_markers_never_touch_inner_whitespace() -> None:
    assert html_to_whatsapp("Status:<b> Diproses </b>sekarang") == "Status: *Diproses* sekarang"
    assert html_to_whatsapp("a<i>\n x </i>b") == "a\n _x_ b"
    assert html_to_whatsapp("<b>Perintah\n/baru</b>") == "*Perintah*\n*/baru*"  # markers do not span lines
    assert html_to_whatsapp("<b> </b>x") == "x"


def test_broken_html_loses_no_text() -> None:
    assert html_to_whatsapp("<b>tanpa penutup") == "*tanpa penutup*"
    assert html_to_whatsapp("liar</i> teks") == "liar teks"
    assert html_to_whatsapp("<pre><b>x</b></pre>") == "```x```"


def test_citizen_text_round_trips_through_escaping() -> None:
    typed = "Got <script> & \"quotes\" 'too' > 3 ✅🛣️ Jl. Sudirman 5 < 7 &amp;"
    body = html_to_whatsapp(f"Deskripsi: <i>{html.escape(typed)}</i>")
    assert body == f"Deskripsi: _{typed}_"


# --- menus ----------------------------------------------------------------------------------------


def test_numbered_menu_with_hint_in_indonesian() -> None:
    (body,) = render(OutMessage("Sudah benar?", buttons=SUMMARY_MENU))
    assert body == (
        "Sudah benar?\n\n"
        "1. 📨 Kirim\n2. ✏️ Ubah\n3. ❌ Batal\n"
        "Balas dengan angka 1–3 atau ketik pilihannya."
    )


def test_numbered_menu_with_hint_in_english() -> None:
    (body,) = render(OutMessage("All correct?", buttons=SUMMARY_MENU), language="en")
    assert body.endswith("1. 📨 Kirim\n2. ✏️ Ubah\n3. ❌ Batal\nReply with a number 1–3 or type the option.")


def test_one_and_two_options_read_naturally() -> None:
    (one,) = render(OutMessage("Foto diterima.", buttons=((Button("✅ Selesai", "photo:done"),),)))
    assert one.endswith("1. ✅ Selesai\nBalas 1 atau ketik pilihannya.")
    two = ((Button("▶️ Lanjutkan", "draft:continue"), Button("🗑️ Batalkan", "draft:cancel")),)
    (body,) = render(OutMessage("Masih ada draf.", buttons=two), language="en")
    assert body.endswith("2. 🗑️ Batalkan\nReply 1 or 2, or type the option.")


def test_menu_halves_are_available_separately() -> None:
    rendered = render_whatsapp(OutMessage("<b>Ringkasan</b>", buttons=SUMMARY_MENU), language="id", ctx=CATALOG)
    assert rendered.text_without_menu == "*Ringkasan*"
    assert rendered.menu.startswith("1. 📨 Kirim") and "1–3" in rendered.menu


# --- keyboards, pins, media -----------------------------------------------------------------------


def test_location_request_becomes_a_hint_and_keyboard_flags_are_ignored() -> None:
    keyboard = ((KeyboardButton("📍 Kirim Lokasi", request_location=True),),)
    (body,) = render(OutMessage("📍 Di mana lokasinya?", keyboard=keyboard, remove_keyboard=True, force_reply=True))
    assert body == (
        "📍 Di mana lokasinya?\n\n"
        "📍 Cara mengirim titik lokasi: 📎 (Android) atau ➕ (iPhone) → *Lokasi* → *Kirim lokasi Anda saat ini*."
    ), "Android shows a paperclip, iPhone a plus: both are named"
    (english,) = render(OutMessage("Where?", keyboard=keyboard), language="en")
    assert "📎 (Android) or ➕ (iPhone) → *Location*" in english
    assert "Kirim Lokasi" not in body


def test_text_keyboard_buttons_are_listed_to_type() -> None:
    keyboard = ((KeyboardButton("Ya"), KeyboardButton("Tidak")),)
    (body,) = render(OutMessage("Lanjut?", keyboard=keyboard))
    assert body == "Lanjut?\n\nAnda juga bisa mengetik:\n• Ya\n• Tidak"


def test_a_pin_becomes_a_maps_link_and_photos_are_passed_on() -> None:
    photo = MediaRef(sha256="a" * 64)
    rendered = render_whatsapp(
        OutMessage("Lokasi laporan", location=(-1.6101, 103.6131), photos=(photo,)), language="id", ctx=CATALOG
    )
    assert rendered.bodies == ("Lokasi laporan\n\nhttps://maps.google.com/?q=-1.6101,103.6131",)
    assert rendered.media == (photo,)


def test_removing_a_keyboard_alone_is_just_the_text() -> None:
    assert render(OutMessage("OK", remove_keyboard=True)) == ("OK",)
    assert render(OutMessage("", photos=(MediaRef(sha256="b" * 64),))) == ()


# --- long texts -----------------------------------------------------------------------------------


def test_long_text_is_split_at_paragraphs_with_the_menu_last() -> None:
    paragraphs = [f"Paragraf {n}: " + "jalan berlubang dekat pasar " * 12 for n in range(10)]
    bodies = render(OutMessage("\n\n".join(paragraphs), buttons=SUMMARY_MENU))
    assert len(bodies) > 1
    assert all(len(b.encode("utf-16-le")) // 2 <= MAX_BODY for b in bodies)
    assert all(b.startswith("Paragraf") for b in bodies)  # every cut at a paragraph boundary
    assert bodies[-1].endswith("1. 📨 Kirim\n2. ✏️ Ubah\n3. ❌ Batal\nBalas dengan angka 1–3 atau ketik pilihannya.")
    assert all("1. 📨 Kirim" not in b for b in bodies[:-1])
    assert " ".join(" ".join(bodies).split()).count("jalan berlubang") == 120  # nothing lost


def test_one_huge_paragraph_is_split_between_words() -> None:
    words = [f"kata{n}" for n in range(700)]
    bodies = split_bodies(" ".join(words))
    assert len(bodies) > 1 and all(len(b) <= MAX_BODY for b in bodies)
    assert " ".join(bodies).split() == words


def test_emoji_count_double_and_a_too_long_word_is_cut() -> None:
    bodies = split_bodies("🛣️" * 1000)  # 3000 UTF-16 units, no place to cut
    assert "".join(bodies) == "🛣️" * 1000 and all(len(b.encode("utf-16-le")) // 2 <= MAX_BODY for b in bodies)


def test_a_menu_that_no_longer_fits_goes_alone_in_the_last_body() -> None:
    text = "x " * 790  # 1580 characters: the menu cannot join it
    bodies = split_bodies(text.strip(), "1. A\n2. B\nBalas 1 atau 2, atau ketik pilihannya.")
    assert bodies == (text.strip(), "1. A\n2. B\nBalas 1 atau 2, atau ketik pilihannya.")
