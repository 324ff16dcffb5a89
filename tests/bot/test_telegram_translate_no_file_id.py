"""A forged update whose photo or image file carries no file id is refused kindly, without asking Telegram
(getFile requires a file id; the fuzz test's spec check caught the empty one going out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiogram.types import Message

from bot.telegram.translate import to_event
from handlers.events import Unsupported
from storage.media import MediaStore


class NoDownloads:
    async def download(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("no file id: nothing may be asked of Telegram")


def message(**content: Any) -> Message:
    return Message.model_validate({
        "message_id": 1, "date": 1_790_000_000, "chat": {"id": 42, "type": "private"},
        "from": {"id": 42, "is_bot": False, "first_name": "Warga"}, **content,
    })


@pytest.mark.parametrize("content", [
    {"photo": [{"file_id": "", "file_unique_id": "u", "width": 10, "height": 10}]},
    {"photo": [{"file_id": "   ", "file_unique_id": "u", "width": 10, "height": 10}]},
    {"document": {"file_id": "", "file_unique_id": "u", "mime_type": "image/jpeg"}},
])
async def test_a_photo_without_a_file_id_is_refused_without_a_request(content: dict[str, Any], tmp_path: Path) -> None:
    event = await to_event(message(**content), NoDownloads(), MediaStore(tmp_path), max_bytes=10_000_000)  # type: ignore[arg-type]
    assert event == Unsupported("unknown")
