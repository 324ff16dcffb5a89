"""Red-team probe: Open311 answers the spec's error list, never a 500, whatever a client sends."""

from __future__ import annotations

import aiohttp
import pytest

from tests.open311.conftest import Api
from tests.open311.test_open311_api import JAMBI

pytestmark = pytest.mark.e2e

GET_PATHS = [
    "requests.json?service_request_id=%00", "requests.xml?service_request_id=JMB-2026-000001,%00",
    "requests.json?service_request_id=" + ",".join(["x"] * 100), "requests.json?service_request_id=" + "A" * 20000,
    "requests.json?start_date=%00", "requests.json?start_date=9999-12-31T23:59:59", "requests.json?end_date=0001-01-01",
    "requests.json?start_date=2026-01-01T00:00:00%2B23:59", "requests.json?status=%00", "requests.json?service_code=%00",
    "requests.json?jurisdiction_id=%00", "requests.json?locale=%00", "requests/%00.json", "requests/..%2F..%2Fx.json",
    "requests/" + "A" * 5000 + ".json", "requests/%ED%A0%80.xml", "services/%00.json", "services/%ED%A0%80.xml",
    "media/1-00", "media/999999999999-" + "0" * 32, "media/99999999999999999999-ab", "requests.yaml", "requests.json?api_key=%ED%A0%80",
]


async def test_no_500(api: Api) -> None:
    bad: list[str] = []
    async with aiohttp.ClientSession() as client:
        for path in GET_PATHS:
            async with client.get(f"{api.base}/{path}") as r:
                await r.read()
                if r.status >= 500:
                    bad.append(f"GET {path[:80]} -> {r.status}")
        good = {"api_key": api.key, "service_code": "jalan", "lat": str(JAMBI[0]), "long": str(JAMBI[1]),
                "description": "Jalan berlubang besar di depan pasar, berbahaya untuk motor"}
        variants = [
            {"description": "Jalan berlubang \x00 besar di depan pasar, berbahaya"},
            {"address_string": "Jl. \x00 Sudirman"},
            {"media_url": "https://example.org/\x00.jpg"},
            {"media_url": "https://[::1"},
            {"media_url": "http://" + "a" * 300 + ".com/x.jpg"},
            {"service_code": "\x00"},
            {"lat": "nan"}, {"lat": "inf"}, {"long": "1e400"}, {"lat": "\x00"},
            {"api_key": "\x00"}, {"jurisdiction_id": "\x00"},
            {"description": "x" * 1_000_000},
            {"first_name": "\x00", "phone": "\x00", "email": "\x00"},
        ]
        for change in variants:
            form = {**good, **change}
            for fmt in ("json", "xml"):
                try:
                    async with client.post(f"{api.base}/requests.{fmt}", data=form) as r:
                        await r.read()
                        if r.status >= 500:
                            bad.append(f"POST {str(change)[:60]} .{fmt} -> {r.status}")
                except (aiohttp.ClientError, UnicodeEncodeError) as exc:
                    bad.append(f"POST {str(change)[:60]} .{fmt} -> {exc!r}")
        raw = [("multipart/form-data", b"x"), ("multipart/form-data; boundary=z", b"x"),
               ("application/x-www-form-urlencoded", b"api_key=%ED%A0%80&service_code=%FF"),
               ("application/x-www-form-urlencoded", b"description=%00")]
        for ctype, body in raw:
            async with client.post(f"{api.base}/requests.json", data=body, headers={"Content-Type": ctype}) as r:
                await r.read()
                if r.status >= 500:
                    bad.append(f"POST raw {ctype} {body[:30]!r} -> {r.status}")
        for method in ("PUT", "DELETE", "PATCH"):
            async with client.request(method, f"{api.base}/requests.json") as r:
                text = await r.text()
                if r.status >= 500 or "code" not in text:
                    bad.append(f"{method} -> {r.status} {text[:80]}")
    assert not bad, "\n".join(bad)
