"""Channel-neutral conversation core.

Everything here is pure logic: ``(state, event) -> (new state, replies, effects)``. Nothing in this
package imports aiogram, twilio, aiohttp or the database; adapters translate channel updates into
:mod:`handlers.events` and :mod:`handlers.messages` back into channel calls.
"""
