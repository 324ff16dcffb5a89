"""Composition root, configuration, CLI and channel adapters (Telegram now, WhatsApp next)."""
