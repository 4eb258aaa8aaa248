"""The client's address: the socket peer, X-Forwarded-For only through trusted proxies."""

from __future__ import annotations

import pytest

from veilleur.service.clientaddr import client_ip, parse_networks, within

PROXIES = parse_networks(["10.0.0.0/8", "::1"])


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_ip("127.0.0.1", ["203.0.113.9"], ()) == "127.0.0.1"
    assert client_ip("198.51.100.4", ["203.0.113.9"], PROXIES) == "198.51.100.4"
    assert client_ip(None, ["203.0.113.9"], PROXIES) == "unknown"


def test_through_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() -> None:
    assert client_ip("10.0.0.2", ["203.0.113.9"], PROXIES) == "203.0.113.9"
    # What the client wrote itself (left) is ignored; proxies (right) are skipped.
    assert client_ip("10.0.0.2", ["6.6.6.6, 203.0.113.9, 10.1.1.1"], PROXIES) == "203.0.113.9"
    assert client_ip("10.0.0.2", ["6.6.6.6", "203.0.113.9"], PROXIES) == "203.0.113.9"
    assert client_ip("::1", ["2001:db8::5"], PROXIES) == "2001:db8::5"
    assert client_ip("10.0.0.2", ["[2001:db8::5]:443"], PROXIES) == "2001:db8::5"
    assert client_ip("10.0.0.2", ["203.0.113.9:5123"], PROXIES) == "203.0.113.9"


def test_a_trusted_proxy_without_a_usable_header_answers_for_itself() -> None:
    assert client_ip("10.0.0.2", [], PROXIES) == "10.0.0.2"
    assert client_ip("10.0.0.2", ["10.3.3.3"], PROXIES) == "10.3.3.3"
    assert client_ip("10.0.0.2", ["not-an-address"], PROXIES) == "10.0.0.2"
    assert client_ip("10.0.0.2", ["6.6.6.6, junk"], PROXIES) == "10.0.0.2"


def test_bad_ranges_are_named() -> None:
    with pytest.raises(ValueError, match=r"--trusted-proxy 'ten' is not an IP address"):
        parse_networks(["ten"])
    assert within("127.0.0.1", parse_networks(["127.0.0.0/8"]))
    assert not within("testclient", parse_networks(["127.0.0.0/8"]))
