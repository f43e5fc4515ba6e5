"""The edge's small parts: which address failures count against, which hosts are
this machine's alone, and how `serve` configures uvicorn."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from synchub.api.edge import client_key
from synchub.cli.launch import is_loopback, uvicorn_config
from synchub.config import Settings


@pytest.mark.parametrize(
    ("peer", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # an IPv4 client of a dual-stack socket
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # one host, one /64
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
    ],
)
def test_failures_count_against_the_peer_an_ipv6_one_by_its_64(peer: str, key: str) -> None:
    assert client_key({"type": "http", "client": (peer, 5000)}) == key


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("nas.example", False),  # a name may resolve to anything
    ],
)
def test_only_loopback_hosts_go_without_the_plain_http_warning(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_names_no_server_and_believes_forwarded_headers_only_from_named_proxies(
    tmp_path: Path,
) -> None:
    plain = uvicorn_config(object(), Settings(home=tmp_path), "127.0.0.1", 8080)  # type: ignore[arg-type]
    assert (plain.server_header, plain.proxy_headers) == (False, False)
    proxied = Settings(home=tmp_path, trusted_proxies="127.0.0.1, 10.1.0.0/16")  # type: ignore[arg-type]
    config = uvicorn_config(object(), proxied, "127.0.0.1", 8080)  # type: ignore[arg-type]
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == ["127.0.0.1", "10.1.0.0/16"]


def test_a_trusted_proxy_must_be_an_address_or_a_network(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="trusted proxies must be IP addresses"):
        Settings(home=tmp_path, trusted_proxies="proxy.example")  # type: ignore[arg-type]
