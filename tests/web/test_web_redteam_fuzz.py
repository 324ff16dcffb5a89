"""Red-team probe: every dashboard route with malformed inputs from a browser never gets a 500."""

from __future__ import annotations

import aiohttp
import pytest

from tests.e2e.conftest import outbox_settled
from tests.e2e.test_filing import file_complaint
from tests.web.webkit import WebWorld, browser, csrf_of, signed_in

pytestmark = pytest.mark.e2e

LIST_PARAMS = [
    "page=-1", "page=1000000000000", "page=abc", "page=1e9", "sort=%27%3B%20DROP", "sort=-", "dir=x",
    "from=9999-99-99", "from=0001-01-01", "to=0001-01-01", "to=9999-12-31", "from=9999-12-31",
    "status=unknown", "status=,,,", "q=%00", "q=" + "x" * 5000, "q=%25%5F%5C", "agency=dlh", "kecamatan=%3Cscript%3E",
    "overdue=1", "lang=xx", "category=../../", "q=JMB-2026-999999999999999999999", "q=2026/99999999999999999999",
    "q=99999999999999999999999", "status=baru&status=selesai", "page=%FF", "q=%ED%A0%80",
]
MAP_PARAMS = ["days=-1", "days=" + "9" * 30, "days=nan", "status=x", "status=", "agency=zzz", "category=%00",
              "counts=0", "days=0&status=all"]


async def test_no_500(web_world: WebWorld) -> None:
    world = web_world
    await world.agency_group("pupr")
    await file_complaint(world, world.citizen(), category="jalan")
    await outbox_settled(world)
    bad: list[str] = []
    for role in ("command", "agency:pupr", "viewer"):
        client = await signed_in(world, role=role)
        async with client.get(world.url("/dashboard/complaints")) as page:
            token = csrf_of(await page.text())
        gets = [f"/dashboard/complaints?{p}" for p in LIST_PARAMS]
        gets += [f"/dashboard/complaints.csv?{p}" for p in LIST_PARAMS]
        gets += [f"/dashboard/complaints.geojson?{p}" for p in LIST_PARAMS]
        gets += [f"/dashboard/map?{p}" for p in MAP_PARAMS]
        gets += [f"/dashboard/map/complaints.geojson?{p}" for p in MAP_PARAMS]
        gets += [f"/dashboard/map/areas.geojson?{p}" for p in MAP_PARAMS]
        gets += ["/dashboard/photos/99999999999999999999999", "/dashboard/photos/9223372036854775808",
                 "/dashboard/photos/2147483648", "/dashboard/photos/0",
                 "/dashboard/complaints/" + "A" * 5000, "/dashboard/complaints/%00", "/dashboard/complaints/..%2F..",
                 "/dashboard/static/..%2F..%2Fpasswords.py", "/dashboard/static/../auth.py",
                 "/dashboard/?lang=en", "/dashboard/agencies?lang=%00", "/dashboard/login?next=%00"]
        for path in gets:
            try:
                async with client.get(world.url(path), allow_redirects=False) as r:
                    await r.read()
                    if r.status >= 500:
                        bad.append(f"{role} GET {path[:100]} -> {r.status}")
            except aiohttp.ClientError as exc:
                bad.append(f"{role} GET {path[:100]} -> {exc!r}")
        posts = [
            ("/dashboard/complaints/JMB-2026-000001/action", {"action": "zzz"}),
            ("/dashboard/complaints/JMB-2026-000001/action", {"action": "reassign", "agency": "nope"}),
            ("/dashboard/complaints/JMB-2026-000001/action", {"action": "reassign", "agency": ""}),
            ("/dashboard/complaints/JMB-2026-000001/action", {"action": "reject", "reason": "x" * 100000}),
            ("/dashboard/complaints/JMB-2026-000001/action", {"action": "note", "note": "\x00"}),
            ("/dashboard/complaints/JMB-2026-000001/action", {"action": "reply", "text": ""}),
            ("/dashboard/complaints/NOPE/action", {"action": "accept"}),
            ("/dashboard/complaints/%00/action", {"action": "accept"}),
            ("/dashboard/complaints/JMB-2026-000001%00/action", {"action": "note", "note": "x"}),
            ("/dashboard/complaints/" + "9" * 3000 + "/action", {"action": "accept"}),
        ]
        for path, form in posts:
            async with client.post(world.url(path), data={"csrf_token": token, **form}, allow_redirects=False) as r:
                await r.read()
                if r.status >= 500:
                    bad.append(f"{role} POST {path} {str(form)[:60]} -> {r.status}")
        raw_posts = [
            ("multipart/form-data", b"garbage"),
            ("multipart/form-data; boundary=xx", b"garbage"),
            ("application/x-www-form-urlencoded", b"action=%FF%FE&text=%ED%A0%80"),
            ("application/json", b"{"),
        ]
        for ctype, body in raw_posts:
            url = world.url(f"/dashboard/complaints/JMB-2026-000001/action?csrf_token={token}")
            async with client.post(url, data=body, headers={"Content-Type": ctype}, allow_redirects=False) as r:
                await r.read()
                if r.status >= 500:
                    bad.append(f"{role} POST raw {ctype} -> {r.status}")
    anon = browser(world)
    async with anon.get(world.url("/dashboard/login")) as page:
        login_token = csrf_of(await page.text())
    for ctype, body in [("application/x-www-form-urlencoded", b"csrf_token=%FF&username=%FF"),
                        ("application/x-www-form-urlencoded", b"username=%00&password=%00&next=%00"),
                        ("multipart/form-data", b"x")]:
        async with anon.post(world.url(f"/dashboard/login?csrf_token={login_token}"), data=body, headers={"Content-Type": ctype}) as r:
            await r.read()
            if r.status >= 500:
                bad.append(f"anon POST login {ctype} -> {r.status}")
    assert not bad, "\n".join(bad)
