"""core.proxies: the client address behind trusted proxies, read right to left."""

import pytest
from django.test import RequestFactory

from core.proxies import client_address, trusted_networks_parse


def address(settings, remote: str, forwarded: str | None, trusted: list[str]) -> str:
    settings.TRUSTED_PROXIES = trusted
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **extra))


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.1", "1.1.1.1", [], "203.0.113.1"),  # no proxies trusted: header ignored
        ("203.0.113.1", "1.1.1.1", ["10.0.0.0/8"], "203.0.113.1"),  # peer not a trusted proxy
        ("10.0.0.2", "1.1.1.1", ["10.0.0.0/8"], "1.1.1.1"),
        ("10.0.0.2", "6.6.6.6, 1.1.1.1", ["10.0.0.0/8"], "1.1.1.1"),  # client-written hop ignored
        ("10.0.0.2", "6.6.6.6, 1.1.1.1, 10.0.0.3", ["10.0.0.0/8"], "1.1.1.1"),  # two proxies
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", ["10.0.0.0/8"], "10.0.0.4"),  # all proxies: the farthest
        ("10.0.0.2", None, ["10.0.0.0/8"], "10.0.0.2"),  # the proxy's own request
        ("10.0.0.2", "1.1.1.1:5678", ["10.0.0.2"], "1.1.1.1"),
        ("10.0.0.2", "[2001:db8::7]:443", ["10.0.0.2"], "2001:db8::7"),
        ("::ffff:10.0.0.2", "2001:db8::7", ["10.0.0.0/8"], "2001:db8::7"),
        ("2001:db8:1::1", "1.1.1.1", ["2001:db8:1::/48"], "1.1.1.1"),
        ("10.0.0.2", "1.1.1.1, bogus", ["10.0.0.0/8"], "10.0.0.2"),  # garbage: the proxy
        ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
    ],
)
def test_client_address(settings, remote, forwarded, trusted, expected):
    assert address(settings, remote, forwarded, trusted) == expected


def test_no_request_and_no_peer():
    assert client_address(None) == "unknown"
    assert client_address(RequestFactory().get("/", REMOTE_ADDR="")) == "unknown"


def test_a_typo_in_trusted_proxies_fails():
    with pytest.raises(ValueError):
        trusted_networks_parse(["10.0.0.0/33"])
