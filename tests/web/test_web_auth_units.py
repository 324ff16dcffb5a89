"""The small pure parts of sign-in: client addresses behind proxies, the ``next`` check, password hashing.

What it proves: X-Forwarded-For is read only from a trusted peer, from the right, skipping trusted hops, and
a garbage entry stops the walk; IPv4-mapped peers match IPv4 proxies; ``safe_next`` keeps dashboard paths
and refuses everything else; argon2id hashes verify, mismatch, and unknown users cost a real check."""

from __future__ import annotations

import pytest

from bot.web import passwords
from bot.web.auth import safe_next
from bot.web.client_address import client_address


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("198.51.100.1", "203.0.113.9", (), "198.51.100.1"),
        ("198.51.100.1", "203.0.113.9", ("127.0.0.1",), "198.51.100.1"),  # not from the proxy: ignored
        ("127.0.0.1", "203.0.113.9", ("127.0.0.1",), "203.0.113.9"),
        ("127.0.0.1", "1.2.3.4, 203.0.113.9", ("127.0.0.1",), "203.0.113.9"),
        ("127.0.0.1", "203.0.113.9, 10.0.0.2", ("127.0.0.1", "10.0.0.0/8"), "203.0.113.9"),
        ("127.0.0.1", "10.0.0.3, 10.0.0.2", ("127.0.0.1", "10.0.0.0/8"), "10.0.0.3"),
        ("127.0.0.1", "203.0.113.9, nonsense", ("127.0.0.1",), "127.0.0.1"),
        ("127.0.0.1", "", ("127.0.0.1",), "127.0.0.1"),
        ("::ffff:127.0.0.1", "203.0.113.9", ("127.0.0.1",), "203.0.113.9"),
        ("::1", "2001:db8::5", ("::1",), "2001:db8::5"),
        ("127.0.0.1", "[2001:db8::5]:4711", ("127.0.0.1",), "2001:db8::5"),
        ("127.0.0.1", "203.0.113.9:4711", ("127.0.0.1",), "203.0.113.9"),
        (None, "203.0.113.9", ("127.0.0.1",), "unknown"),
    ],
)
def test_client_address(remote: str | None, forwarded: str, trusted: tuple[str, ...], expected: str) -> None:
    assert client_address(remote, forwarded, trusted) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/dashboard/complaints?status=open", "/dashboard/complaints?status=open"),
        ("/dashboard/", "/dashboard/"),
        ("/dashboard/login", "/dashboard/"),
        ("https://evil.example/dashboard/", "/dashboard/"),
        ("//evil.example/", "/dashboard/"),
        ("/dashboard/../evil", "/dashboard/"),
        ("/dashboard/\\evil", "/dashboard/"),
        ("/other", "/dashboard/"),
        (None, "/dashboard/"),
    ],
)
def test_safe_next(value: object, expected: str) -> None:
    assert safe_next(value) == expected


async def test_passwords() -> None:
    stored = await passwords.hash_password_async("sandi-yang-panjang")
    assert stored.startswith("$argon2id$")
    assert await passwords.verify_async(stored, "sandi-yang-panjang")
    assert not await passwords.verify_async(stored, "sandi-yang-lain")
    assert not await passwords.verify_async(None, "sandi-yang-panjang")  # an unknown user: the dummy is checked
    assert not passwords.verify("not a hash", "x")
    assert not passwords.needs_rehash(stored)
    assert passwords.needs_rehash("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo")


def test_an_http_tile_server_is_allowed_by_the_content_security_policy() -> None:
    """A city's own tile server on plain http (its LAN) would be blocked by ``img-src https:`` alone."""
    from bot.web.auth import CONTENT_SECURITY_POLICY, content_security_policy

    assert content_security_policy("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == CONTENT_SECURITY_POLICY
    lan = content_security_policy("http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https: http://10.1.2.3:8080;" in lan
    assert "script-src 'self';" in lan
