"""A local Twilio Messages API server (WhatsApp channel) for tests and the playground.

Usage::

    async with TwilioServer(ACCOUNT_SID, AUTH_TOKEN) as tw:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=AsyncTwilioHttpClient())
        client.api.base_url = tw.base_url  # twilio>=9: Domain.base_url
        siti = tw.create_whatsapp_user("+6281234567890", "Siti")
        await siti.send(webhook_url, "Halo")
        reply = await tw.wait_for_message(siti.number)
"""

from .server import InboundDelivery, MessageRecord, TwilioError, TwilioServer, WhatsAppUser
from .spec import TwilioSpec

__all__ = ["InboundDelivery", "MessageRecord", "TwilioError", "TwilioServer", "TwilioSpec", "WhatsAppUser"]
