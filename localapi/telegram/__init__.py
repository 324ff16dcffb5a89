"""A local Telegram Bot API server that behaves like Telegram, for tests, benchmarks and the playground.

Usage::

    async with TelegramServer(rate_limits=False) as tg:
        bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))
        alice = tg.create_user("Alice")
        alice.send_text("/start")
        reply = await tg.wait_for_message(alice.id)
"""

from .errors import SimulationError, TelegramAPIError
from .media import make_jpeg
from .methods import Upload
from .ratelimit import STRICT, RateLimits
from .server import TelegramServer
from .simulation import SimUser
from .state import ChatRecord, FileRecord, StoredMessage, UserRecord

Chat = ChatRecord
User = SimUser
Message = StoredMessage

__all__ = [
    "STRICT",
    "Chat",
    "ChatRecord",
    "FileRecord",
    "Message",
    "RateLimits",
    "SimUser",
    "SimulationError",
    "StoredMessage",
    "TelegramAPIError",
    "TelegramServer",
    "Upload",
    "User",
    "UserRecord",
    "make_jpeg",
]
