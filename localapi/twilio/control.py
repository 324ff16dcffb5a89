"""JSON control API of the local Twilio server (playground and non-Python test drivers), under ``/_control``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import MessageRecord, TwilioServer


def _message(record: MessageRecord) -> dict[str, Any]:
    return {**record.resource, "content_sid": record.content_sid, "content_variables": record.content_variables,
            "media_urls": record.media_urls, "status_callback": record.status_callback,
            "callbacks": record.callbacks}


def add_control_routes(app: web.Application, server: TwilioServer) -> None:
    async def info(request: web.Request) -> web.StreamResponse:
        return web.json_response({"account_sid": server.account_sid, "whatsapp_from": server.whatsapp_from,
                                  "base_url": server.base_url, "spec": str(server.spec_path or ""),
                                  "spec_violations": server.spec_violations})

    async def create_user(request: web.Request) -> web.StreamResponse:
        data = await request.json()
        user = server.create_whatsapp_user(data.get("number", "+6281234567890"), data.get("profile_name", "Siti"))
        return web.json_response({"number": user.number, "profile_name": user.profile_name})

    async def send(request: web.Request) -> web.StreamResponse:
        """``{"number", "webhook_url", "body"?, "latitude"?, "longitude"?, "address"?, "label"?,
        "button_payload"?, "button_text"?}``."""
        data = await request.json()
        user = server.users.get(str(data.get("number", "")).removeprefix("whatsapp:"))
        if user is None:
            return web.json_response({"error": "unknown user"}, status=404)
        keys = ("latitude", "longitude", "address", "label", "button_payload", "button_text")
        delivery = await user.send(data["webhook_url"], data.get("body"), **{k: data[k] for k in keys if k in data})
        return web.json_response({"status": delivery.status, "params": delivery.params})

    async def messages(request: web.Request) -> web.StreamResponse:
        return web.json_response([_message(m) for m in server.messages_to(request.match_info["number"])])

    async def advance(request: web.Request) -> web.StreamResponse:
        server.advance(float((await request.json())["hours"]))
        return web.json_response({"now": server.now()})

    async def faults(request: web.Request) -> web.StreamResponse:
        data = await request.json()
        server.inject_rate_limit(int(data.get("rate_limit", 0)))
        server.fail_network(int(data.get("network", 0)))
        return web.json_response({"rate_limited": server.rate_limited, "network_failures": server.network_failures})

    app.router.add_get("/_control/info", info)
    app.router.add_post("/_control/users", create_user)
    app.router.add_post("/_control/send", send)
    app.router.add_get("/_control/users/{number}/messages", messages)
    app.router.add_post("/_control/advance", advance)
    app.router.add_post("/_control/faults", faults)
