"""Run the local Twilio server on its own: ``python -m localapi.twilio --port 8089``.

Point the bot at it with ``TWILIO_API_BASE=<printed URL>`` and the same ``TWILIO_ACCOUNT_SID`` /
``TWILIO_AUTH_TOKEN`` / ``TWILIO_WHATSAPP_FROM`` on both sides, then act as WhatsApp citizens through the
JSON control API under ``/_control`` (see :mod:`localapi.twilio.control`): create a user, send as that
user to the bot's webhook, read what the bot sent, move the 24-hour window's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from localapi.twilio.server import TwilioServer

DEFAULT_SID = "AC" + "0" * 32
DEFAULT_TOKEN = "local-twilio-auth-token"
DEFAULT_FROM = "whatsapp:+14155238886"


async def _serve(host: str, port: int, account_sid: str, auth_token: str, whatsapp_from: str,
                 read_receipts: bool) -> None:
    server = TwilioServer(account_sid, auth_token, whatsapp_from=whatsapp_from, read_receipts=read_receipts)
    await server.start(host, port)
    print(f"Local Twilio Messages API at {server.base_url} (account {account_sid}, from {whatsapp_from})",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m localapi.twilio", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--account-sid", default=DEFAULT_SID, help="AC followed by 32 hex digits")
    parser.add_argument("--auth-token", default=DEFAULT_TOKEN)
    parser.add_argument("--from", dest="whatsapp_from", default=DEFAULT_FROM,
                        help="the bot's WhatsApp sender, like whatsapp:+14155238886")
    parser.add_argument("--read-receipts", action="store_true",
                        help="recipients read delivered messages (a 'read' status callback follows 'delivered')")
    args = parser.parse_args()
    if not args.whatsapp_from.startswith("whatsapp:+"):
        parser.error("--from must look like whatsapp:+14155238886")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.account_sid, args.auth_token, args.whatsapp_from,
                           args.read_receipts))


if __name__ == "__main__":
    main()
