"""Host names and host:port values: what a resolver can take, and nothing it cannot."""

from __future__ import annotations

import pytest

from macroinfra.addresses import MAX_HOST_LENGTH, check_host, split_host_port


@pytest.mark.parametrize(
    "host",
    ["localhost", "127.0.0.1", "::1", "db-1.internal", "a_b", "host.", "x" * 63, "fe80::1"],
)
def test_valid_hosts_pass_unchanged(host):
    assert check_host(host) == host


@pytest.mark.parametrize(
    "host",
    ["", "...", "a..b", "-a", "a-", "x" * 64, "h/x", "http://h", "[::1]", "a b", "é.com", "1:2:x"],
)
def test_hosts_a_resolver_cannot_take_are_refused(host):
    with pytest.raises(ValueError, match="must be a host name or an IP address"):
        check_host(host)


def test_a_name_longer_than_dns_allows_is_refused_without_echoing_it():
    name = ".".join(["a" * 50] * 6)  # labels fine, whole name too long
    assert len(name) > MAX_HOST_LENGTH
    with pytest.raises(ValueError) as caught:
        check_host(name)
    assert name not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:9000", ("127.0.0.1", 9000)), ("[::1]:9092", ("::1", 9092)), ("h:1", ("h", 1))],
)
def test_host_port_pairs(value, expected):
    assert split_host_port(value) == expected


@pytest.mark.parametrize("value", ["h", "h:0", "h:65536", "h:x", ":80", "...:80"])
def test_bad_host_port_pairs(value):
    with pytest.raises(ValueError):
        split_host_port(value)
