"""Telegram adapter (aiogram): translate updates into neutral events, call the services, answer
button presses. Outgoing messages never leave from here: they go through the outbox."""
