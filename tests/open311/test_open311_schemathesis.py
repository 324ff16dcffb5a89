"""Schemathesis against a live instance: the real app (its own temporary database, the local Telegram
server, linked agency groups, one API key), the OpenAPI document fetched from the running API, and every
operation fuzzed with generated requests (20 each): no server error, and every answer's status code,
content type and body conform to the document. A real POST files a complaint, so the instance is the
test's own."""

from __future__ import annotations

import asyncio

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from tests.e2e.conftest import World, outbox_settled
from tests.e2e.harness import body
from tests.open311.conftest import Api

EXAMPLES = 20
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
VALID = {"service_code": "lampu", "lat": "-1.6101", "long": "103.6131",
         "description": "Lampu jalan mati di depan masjid sejak kemarin malam"}


def fuzz(schema_url: str, base_url: str, key: str) -> tuple[list[str], dict[int, int]]:
    """Run every operation; returns the labels run and how many answers had each status code
    (schemathesis's failures raise)."""
    schema = schemathesis.openapi.from_url(schema_url)
    ran: list[str] = []
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            if case.method == "POST" and isinstance(case.body, dict) and len(str(case.body)) % 2:
                case.body = {**case.body, "api_key": key}  # half of them with the real key
            response = case.call_and_validate(base_url=base_url, checks=CHECKS)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        run()
        if operation.method.upper() == "POST":  # and one request that files for sure
            filed = operation.Case(body={**VALID, "api_key": key}, media_type="application/x-www-form-urlencoded")
            response = filed.call_and_validate(base_url=base_url, checks=CHECKS)
            assert response.status_code == 201, response.text
        ran.append(operation.label)
    return ran, statuses


async def test_open311_conforms_to_its_openapi_document(api: Api) -> None:
    world: World = api.world
    ran, statuses = await asyncio.to_thread(fuzz, f"{api.base}/openapi.yaml", api.base, api.key)
    print("open311 schemathesis answers by status:", statuses)
    assert sum(statuses.values()) >= 5 * len(ran) and 200 in statuses and 404 in statuses
    assert "POST /requests.json" in ran and "GET /requests/{service_request_id}.xml" in ran and len(ran) == 13
    await outbox_settled(world)
    clerk = api.staff["dishub"][0]
    cards = [m for m in clerk.server.bot_messages(clerk.chat_id) if "JMB-" in body(m)]
    assert cards, "the request filed through Open311 reached the agency group as a card"
