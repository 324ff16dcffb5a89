"""A citizen who joined a complaint as "the same problem" follows its status, not the reporter's
conversation with the agency: /status shows them the public history and their own exchange only."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import body, choose, eventually, payloads
from tests.e2e.test_channels import JAMBI, file_on, summary_from, to_location_step

pytestmark = pytest.mark.e2e

NUMBER = "JMB-2026-000001"
#: about 20 m from JAMBI: offered as the same problem
CLOSE_BY = (JAMBI[0] + 0.00018, JAMBI[1])

STAFF_TO_REPORTER = "Mohon patokan rumah Ibu"
REPORTER_TO_STAFF = "Depan rumah nomor 12"
FOLLOWER_TO_STAFF = "Lubangnya makin besar"
STAFF_TO_FOLLOWER = "Tim dijadwalkan Senin"


async def test_a_follower_sees_the_status_but_not_the_reporters_conversation(world: World) -> None:
    staff = await world.agency_group("pupr")
    reporter, follower = world.citizen("Ani"), world.citizen("Budi")
    await file_on(reporter)
    card = await staff[0].next_matching(NUMBER)
    await outbox_settled(world)

    await to_location_step(follower, description="Lubang besar lagi di jalan depan pasar, motor hampir jatuh")
    await summary_from(follower, await follower.location(*CLOSE_BY))
    await choose(follower, "Kirim")
    await follower.next_matching("Apakah masalah")
    assert "gabungkan" in body(await choose(follower, "Sama dengan"))
    await eventually(lambda: "Juga dilaporkan oleh 1 warga" in body(current(world, card)))

    fresh = current(world, card)
    await staff[0].tap(next(p for p in payloads(fresh) if p.startswith("st:accept:")), fresh)
    await reporter.next_matching("diterima")
    notice = await follower.next_matching("diterima")
    await outbox_settled(world)

    # staff and the reporter talk about the complaint
    staff[0].user.send_text(STAFF_TO_REPORTER, chat=card.chat_id, reply_to=card.message_id)
    asked = await reporter.next_matching(STAFF_TO_REPORTER)
    await outbox_settled(world)
    reporter.user.send_text(REPORTER_TO_STAFF, reply_to=asked.message_id)
    await staff[0].next_matching(REPORTER_TO_STAFF)
    await reporter.next()  # "your message was sent"
    # and the follower talks to staff too
    follower.user.send_text(FOLLOWER_TO_STAFF, reply_to=notice.message_id)
    relayed = await staff[0].next_matching(FOLLOWER_TO_STAFF)
    await follower.next()
    await outbox_settled(world)
    staff[0].user.send_text(STAFF_TO_FOLLOWER, chat=relayed.chat_id, reply_to=relayed.message_id)
    await follower.next_matching(STAFF_TO_FOLLOWER)
    await outbox_settled(world)

    theirs = body(await follower.say(f"/status {NUMBER}"))
    assert NUMBER in theirs and "Diterima" in theirs, "a follower sees the status and its history"
    assert STAFF_TO_REPORTER not in theirs, "not staff's answers to the reporter"
    assert REPORTER_TO_STAFF not in theirs, "not the reporter's messages to staff"
    assert STAFF_TO_FOLLOWER in theirs, "an answer addressed to the follower is theirs to read"

    own = body(await reporter.say(f"/status {NUMBER}"))
    assert NUMBER in own and "Diterima" in own
    assert STAFF_TO_REPORTER in own and REPORTER_TO_STAFF in own, "the reporter's own view is unchanged"
    assert STAFF_TO_FOLLOWER not in own and FOLLOWER_TO_STAFF not in own, "nor does the reporter read the follower's"
