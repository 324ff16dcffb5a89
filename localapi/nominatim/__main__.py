"""Run the local Nominatim server on its own: ``python -m localapi.nominatim --port 8088``.

Point the bot at it with ``NOMINATIM_URL=<printed URL>``. Try it with::

    curl -s 'http://127.0.0.1:8088/reverse?format=jsonv2&lat=-1.596&lon=103.612&zoom=17'
    curl -s 'http://127.0.0.1:8088/search?format=jsonv2&q=sudirman&limit=3'
    curl -s -X POST http://127.0.0.1:8088/_control/faults -d '{"delay": 5}'   # a slow Nominatim
    curl -s http://127.0.0.1:8088/_control/requests                          # who asked, when

The answers come from APPROXIMATE sample streets of Kota Jambi (``localapi/nominatim/data.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from localapi.nominatim.server import NominatimServer


async def _serve(host: str, port: int, enforce_rate_limit: bool, delay: float) -> None:
    server = NominatimServer(enforce_rate_limit=enforce_rate_limit, delay=delay)
    await server.start(host, port)
    print(f"Local Nominatim at {server.base_url} ({len(server.streets)} approximate sample streets of Kota Jambi)",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m localapi.nominatim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--enforce-rate-limit", action="store_true",
                        help="answer 429 to requests less than 0.5 s apart (Nominatim allows 1 per second)")
    parser.add_argument("--delay", type=float, default=0.0, help="answer every request this many seconds late")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.enforce_rate_limit, args.delay))


if __name__ == "__main__":
    main()
