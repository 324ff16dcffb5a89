"""Open311 GeoReport v2 against the real app: every endpoint in JSON and XML, the errors in the spec's
format, what is published (and what never is), and a posted request reaching the agency group as a card."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.open311 import media
from storage.api_keys import ApiKeyRepo
from storage.models import ApiKey, Citizen, Complaint, MediaFile, OutboxMessage
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import body, eventually, payloads
from tests.e2e.test_filing import file_complaint
from tests.open311.conftest import APP_NAME, Api

JAMBI = ("-1.6101", "103.6131")
JAKARTA = ("-6.2", "106.8")
ROAD = "Jalan berlubang besar di depan sekolah, motor sering jatuh"
LIGHT = "Lampu jalan mati sejak seminggu di ujung gang"
PHOTO = "https://example.org/photos/lubang.jpg"


async def post(api: Api, fmt: str = "json", **overrides: str) -> object:
    form = {"api_key": api.key, "service_code": "jalan", "lat": JAMBI[0], "long": JAMBI[1],
            "description": ROAD, "media_url": PHOTO, **overrides}
    return await api.post(f"requests.{fmt}", **{k: v for k, v in form.items() if v is not None})


def runtime(world: World):  # type: ignore[no-untyped-def]
    assert world.app.runtime is not None
    return world.app.runtime


async def test_discovery_json_and_xml(api: Api) -> None:
    found = (await api.get("discovery.json")).json()
    assert found["contact"] == api.world.config.open311.contact and found["changeset"]
    endpoint = found["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == api.base and endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = (await api.get("discovery.xml")).xml()
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


async def test_services_and_definitions(api: Api) -> None:
    services = (await api.get("services.json")).json()
    assert [s["service_code"] for s in services] == list(api.world.config.categories)
    road = next(s for s in services if s["service_code"] == "jalan")
    assert road["service_name"] == "Jalan rusak" and road["type"] == "realtime" and road["metadata"] is False
    assert road["description"] and road["group"]
    english = (await api.get("services.json", locale="en")).json()
    assert next(s for s in english if s["service_code"] == "jalan")["service_name"] == "Damaged road"
    root = (await api.get("services.xml")).xml()
    assert root.tag == "services" and root.findtext("service/service_code") == "jalan"
    assert root.find("service/metadata").text == "false"  # type: ignore[union-attr]
    assert (await api.get("services/jalan.json")).json() == {"service_code": "jalan", "attributes": []}
    definition = (await api.get("services/jalan.xml")).xml()
    assert definition.tag == "service_definition" and definition.findtext("service_code") == "jalan"
    assert (await api.get("services.json", jurisdiction_id="jambikota.go.id")).status == 200


async def test_unknown_service_and_jurisdiction_are_404_in_both_formats(api: Api) -> None:
    missing = await api.get("services/nope.json")
    assert missing.status == 404 and missing.json()[0]["code"] == 404 and missing.json()[0]["description"]
    missing_xml = await api.get("services/nope.xml")
    assert missing_xml.status == 404
    root = missing_xml.xml()
    assert root.tag == "errors" and root.findtext("error/code") == "404" and root.findtext("error/description")
    assert (await api.get("services.json", jurisdiction_id="elsewhere.example")).status == 404
    assert (await api.get("nothing-here.xml")).xml().tag == "errors"


async def test_post_files_a_complaint_that_reaches_the_agency_group_as_a_card(api: Api) -> None:
    reply = await post(api)
    assert reply.status == 201, reply.text  # type: ignore[attr-defined]
    [filed] = reply.json()  # type: ignore[attr-defined]
    number = filed["service_request_id"]
    assert number.startswith("JMB-") and filed["account_id"] is None and "PUPR" in filed["service_notice"].upper()
    card = await api.staff["pupr"][0].next()
    assert number in body(card) and "berlubang" in body(card)
    await outbox_settled(api.world)
    async with UnitOfWork(runtime(api.world).sessionmaker) as uow:
        complaint = await uow.complaints.by_number(number)
        assert complaint is not None and complaint.agency == "pupr" and complaint.external_media_url == PHOTO
        assert complaint.kecamatan and complaint.due_at is not None
        citizen = await uow.citizens.get(complaint.citizen_id)
        key = (await uow.session.execute(select(ApiKey).where(ApiKey.name == APP_NAME))).scalar_one()
        assert citizen is not None and citizen.channel == "open311" and citizen.channel_user_id == f"app:{key.id}"
        assert citizen.display_name == APP_NAME
        audit = await uow.audit.history(complaint.id)
        assert [e.action for e in audit] == ["submit"]
        queued = (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.channel == "open311"))).all()
        assert queued == []
    # a second one with the XML answer
    root = (await post(api, "xml", service_code="lampu", description=LIGHT, media_url=None)).xml()  # type: ignore[attr-defined]
    assert root.tag == "service_requests" and root.findtext("request/service_request_id", "").startswith("JMB-")
    assert root.find("request/account_id") is not None
    card = await api.staff["dishub"][0].next()
    assert "Lampu jalan mati" in body(card)


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_api_key_missing_bad_or_revoked_is_403(api: Api, fmt: str) -> None:
    for key in ("", "not-a-key", "x" * 500):
        reply = await post(api, fmt, api_key=key)
        assert reply.status == 403  # type: ignore[attr-defined]
    async with UnitOfWork(runtime(api.world).sessionmaker) as uow:
        await ApiKeyRepo(uow.session).revoke(APP_NAME)
        await uow.commit()
    reply = await post(api, fmt)
    assert reply.status == 403  # type: ignore[attr-defined]
    if fmt == "xml":
        assert reply.xml().findtext("error/code") == "403"  # type: ignore[attr-defined]
    else:
        assert reply.json()[0]["code"] == 403  # type: ignore[attr-defined]
    async with UnitOfWork(runtime(api.world).sessionmaker) as uow:
        assert (await uow.session.execute(select(Complaint))).first() is None


async def test_post_parameters_are_checked(api: Api) -> None:
    async def error(**overrides: str) -> str:
        reply = await post(api, **overrides)
        assert reply.status == 400, reply.text  # type: ignore[attr-defined]
        return str(reply.json()[0]["description"])  # type: ignore[attr-defined]

    assert "media_url" in await error(media_url=None)  # jalan requires a photo
    assert "media_url" in await error(media_url="ftp://example.org/x.jpg")
    assert "lat" in await error(lat=None)
    assert "Kota Jambi" in await error(lat=JAKARTA[0], long=JAKARTA[1])
    assert "service_code" in await error(service_code="nope")
    assert "description" in await error(description="pendek")
    assert "lat" in await error(lat="abc")
    assert (await post(api, jurisdiction_id="elsewhere")).status == 404  # type: ignore[attr-defined]
    async with UnitOfWork(runtime(api.world).sessionmaker) as uow:
        assert (await uow.session.execute(select(Complaint))).first() is None


async def test_personal_data_sent_by_an_app_is_not_stored(api: Api) -> None:
    reply = await post(api, first_name="Rahmat", last_name="Hidayat", email="rahmat@example.org",
                       phone="081234567890", device_id="device-77", account_id="acct-88")
    assert reply.status == 201  # type: ignore[attr-defined]
    async with UnitOfWork(runtime(api.world).sessionmaker) as uow:
        complaint = (await uow.session.execute(select(Complaint))).scalar_one()
        citizen = (await uow.session.execute(select(Citizen))).scalar_one()
        stored = repr(vars(complaint)) + repr(vars(citizen))
    for secret in ("Rahmat", "Hidayat", "rahmat@example.org", "081234567890", "device-77", "acct-88"):
        assert secret not in stored


async def test_requests_list_filters_and_one_request(api: Api) -> None:
    road = (await post(api)).json()[0]["service_request_id"]  # type: ignore[attr-defined]
    light = (await post(api, service_code="lampu", description=LIGHT, media_url=None)).json()[0]["service_request_id"]  # type: ignore[attr-defined]
    rt = runtime(api.world)
    async with UnitOfWork(rt.sessionmaker) as uow:
        complaint = await uow.complaints.by_number(light)
        assert complaint is not None
        complaint.status, complaint.reject_reason = "ditolak", "Bukan wewenang kota"
        await uow.commit()
    listed = (await api.get("requests.json")).json()
    assert [r["service_request_id"] for r in listed] == [light, road]  # newest first
    assert {r["status"] for r in listed} == {"open", "closed"}
    closed = next(r for r in listed if r["service_request_id"] == light)
    assert closed["status_notes"] == "Ditolak: Bukan wewenang kota" and closed["media_url"] is None
    assert [r["service_request_id"] for r in (await api.get("requests.json", status="open")).json()] == [road]
    assert [r["service_request_id"] for r in (await api.get("requests.json", status="closed")).json()] == [light]
    assert [r["service_request_id"] for r in (await api.get("requests.json", service_code="jalan")).json()] == [road]
    assert len((await api.get("requests.json", status="open,closed")).json()) == 2
    assert (await api.get("requests.json", service_request_id=f"{road},{light}")).status == 200
    [one] = (await api.get(f"requests/{road}.json")).json()
    assert one["service_code"] == "jalan" and one["description"] == ROAD and one["media_url"] == PHOTO
    assert one["agency_responsible"] and one["lat"] == pytest.approx(float(JAMBI[0]))
    async with UnitOfWork(rt.sessionmaker) as uow:
        stored = await uow.complaints.by_number(road)
        assert stored is not None and stored.due_at is not None
        due = stored.due_at.astimezone(ZoneInfo("Asia/Jakarta")).isoformat(timespec="seconds")
    assert one["expected_datetime"] == due and one["requested_datetime"].endswith("+07:00")
    root = (await api.get(f"requests/{road}.xml")).xml()
    assert root.tag == "service_requests" and root.findtext("request/service_request_id") == road
    assert root.findtext("request/expected_datetime") == due and root.find("request/address_id") is not None
    assert len((await api.get("requests.xml")).xml().findall("request")) == 2
    missing = await api.get("requests/JMB-2026-999999.json")
    assert missing.status == 404 and missing.json()[0]["code"] == 404
    assert (await api.get("requests/JMB-2026-999999.xml")).xml().findtext("error/code") == "404"


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_bad_dates_and_too_wide_windows_are_400(api: Api, fmt: str) -> None:
    for params in (
        {"start_date": "kemarin"},
        {"end_date": "2026-13-45"},
        {"start_date": "2026-01-01T00:00:00+07:00", "end_date": "2026-06-01T00:00:00+07:00"},  # > 90 days
        {"start_date": "2026-03-01", "end_date": "2026-02-01"},
        {"status": "pending"},
        {"service_code": "nope"},
        {"start_date": "0001-01-01T00:00:00+14:00"},
    ):
        reply = await api.get(f"requests.{fmt}", **params)
        assert reply.status == 400, (params, reply.text)
        code = reply.json()[0]["code"] if fmt == "json" else int(reply.xml().findtext("error/code") or 0)
        assert code == 400


async def test_windows_default_to_the_last_90_days(api: Api) -> None:
    number = (await post(api)).json()[0]["service_request_id"]  # type: ignore[attr-defined]
    rt = runtime(api.world)
    async with UnitOfWork(rt.sessionmaker) as uow:
        complaint = await uow.complaints.by_number(number)
        assert complaint is not None
        filed = complaint.created_at
        complaint.created_at = filed - timedelta(days=100)
        await uow.commit()
    assert (await api.get("requests.json")).json() == []
    old = (filed - timedelta(days=120)).isoformat()
    assert [r["service_request_id"] for r in (await api.get("requests.json", start_date=old)).json()] == [number]
    assert (await api.get(f"requests/{number}.json")).status == 200  # by id: no window


async def test_confidential_and_personal_data_are_never_published(api: Api) -> None:
    siti = api.world.citizen("Siti Rahmawati")
    await file_complaint(api.world, siti)
    await outbox_settled(api.world)
    rt = runtime(api.world)
    async with UnitOfWork(rt.sessionmaker) as uow:
        public = (await uow.session.execute(select(Complaint))).scalar_one()
        public.reporter_name = "Siti Rahmawati"  # even a name the citizen agreed to show staff
        public.anon_alias = "Anonim #K7QF2M"
        number = public.number
        await uow.commit()
    secret = (await post(api, description="Rahasia: pungutan liar di kantor kelurahan")).json()[0]["service_request_id"]  # type: ignore[attr-defined]
    async with UnitOfWork(rt.sessionmaker) as uow:
        hidden = await uow.complaints.by_number(secret)
        assert hidden is not None
        hidden.privacy = "rahasia"
        await uow.commit()
    texts = []
    for path in ("requests.json", "requests.xml", f"requests/{number}.json", f"requests/{number}.xml"):
        reply = await api.get(path)
        assert reply.status == 200
        texts.append(reply.text)
    listed = (await api.get("requests.json")).json()
    assert [r["service_request_id"] for r in listed] == [number]
    assert (await api.get(f"requests/{secret}.json")).status == 404
    assert (await api.get(f"requests/{secret}.xml")).status == 404
    assert (await api.get("requests.json", service_request_id=secret)).json() == []
    everything = "\n".join(texts)
    for private in ("Siti", "Rahmawati", "Anonim #", "Warga #", str(siti.user.id), "pungutan", secret):
        assert private not in everything, private
    # the chat complaint's photo is re-encoded: published through the signed media URL
    [record] = listed
    assert record["media_url"] and record["media_url"].startswith(f"{api.base}/media/")
    async with api.session.get(record["media_url"]) as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
        data = await response.read()
    assert data[:2] == b"\xff\xd8" and b"Exif" not in data[:64]
    token = record["media_url"].rsplit("/", 1)[1]
    photo_id = int(token.split("-")[0])
    assert media.photo_id_of(rt.secret, token) == photo_id
    forged = f"{photo_id + 1}-{token.split('-')[1]}"
    async with api.session.get(f"{api.base}/media/{forged}") as response:
        assert response.status == 404
    async with UnitOfWork(rt.sessionmaker) as uow:  # not re-encoded (stored before issue 12): no media_url
        for row in (await uow.session.execute(select(MediaFile))).scalars():
            row.reencoded = False
        await uow.commit()
    assert (await api.get(f"requests/{number}.json")).json()[0]["media_url"] is None
    async with api.session.get(record["media_url"]) as response:
        assert response.status == 404


async def test_openapi_document_is_served(api: Api) -> None:
    async with api.session.get(f"{api.base}/openapi.yaml") as response:
        assert response.status == 200
        assert "openapi: 3.0" in await response.text()


async def test_staff_act_on_the_card_and_the_app_reads_the_status_back_with_nothing_queued(api: Api) -> None:
    number = (await post(api, service_code="lampu", description=LIGHT, media_url=None)).json()[0]["service_request_id"]  # type: ignore[attr-defined]
    clerk = api.staff["dishub"][0]
    card = await clerk.next()
    accept = next(p for p in payloads(card) if p.startswith("st:accept:"))
    await clerk.tap(accept, card)
    await eventually(lambda: not any(p.startswith("st:accept:") for p in payloads(current(api.world, card))))
    await outbox_settled(api.world)
    [record] = (await api.get(f"requests/{number}.json")).json()
    assert record["status"] == "open" and record["status_notes"] == "Diterima oleh instansi"
    assert (await api.get(f"requests/{number}.json", locale="en")).json()[0]["status_notes"] == "Accepted by the agency"
    async with UnitOfWork(runtime(api.world).sessionmaker) as uow:
        queued = (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.channel == "open311"))).all()
        assert queued == [], "an app's complaint queues no status notice"
