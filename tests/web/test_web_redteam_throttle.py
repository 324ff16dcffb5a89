"""Red-team regression: the failed-login counter per address counts an IPv6 client by its /64 (a client
holds a whole /64 and could use a fresh address for every guess); IPv4 addresses stay one each."""

from __future__ import annotations

from storage.accounts import address_key


def test_ipv6_addresses_of_one_64_share_a_counter() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff:eeee:dddd:cccc")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("2001:db8:1:2::1") == "addr:2001:db8:1:2::/64"


def test_ipv4_and_unknown_addresses_are_kept_as_they_are() -> None:
    assert address_key("192.0.2.7") == "addr:192.0.2.7"
    assert address_key("192.0.2.7") != address_key("192.0.2.8")
    assert address_key("unknown") == "addr:unknown"
