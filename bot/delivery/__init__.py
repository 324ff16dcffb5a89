"""Outbox delivery: turns queued :class:`handlers.messages.OutMessage` rows into channel API calls.

Only :mod:`bot.delivery.ratelimit` and :mod:`bot.delivery.render` are imported here eagerly; import the
sender from :mod:`bot.delivery.telegram` (it pulls in the storage layer).
"""

from bot.delivery.ratelimit import RateLimiter, RateLimits

__all__ = ["RateLimiter", "RateLimits"]
