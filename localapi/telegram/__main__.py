"""Run the local Bot API server on its own: ``python -m localapi.telegram --port 8081``.

Point the bot at it with ``TELEGRAM_API_BASE=http://127.0.0.1:8081`` and any token of the form
``<digits>:<text>`` (the same token on both sides), then act as citizens and staff through the JSON
control API under ``/_control`` (see :mod:`localapi.telegram.control`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from localapi.telegram.server import TelegramServer


async def _serve(host: str, port: int, token: str, rate_limits: bool | str) -> None:
    server = TelegramServer(token, rate_limits=rate_limits)
    await server.start(host, port)
    print(f"Local Telegram Bot API server at {server.base_url} (token {token.split(':', 1)[0]}:…)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m localapi.telegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:LOCAL-TEST-TOKEN")
    parser.add_argument("--no-rate-limits", action="store_true", help="lift Telegram's flood limits")
    parser.add_argument("--strict-limits", action="store_true",
                        help="count Telegram's limits in sliding windows (429s: GET /_control/info)")
    args = parser.parse_args()
    limits: bool | str = False if args.no_rate_limits else "strict" if args.strict_limits else True
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.token, limits))


if __name__ == "__main__":
    main()
