import pytest
from django.test import RequestFactory, override_settings

from apps.audit.request_info import parse_user_agent, route_template
from apps.core.client_ip import client_ip

rf = RequestFactory()


def _request(remote: str = "10.0.0.2", forwarded: str | None = None):
    request = rf.get("/", REMOTE_ADDR=remote)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


@override_settings(TRUSTED_PROXIES=[], PROXY_COUNT=0)
def test_client_ip_ignores_forwarded_header_without_configured_proxies():
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"], PROXY_COUNT=0)
def test_client_ip_walks_chain_past_trusted_proxies():
    request = _request("10.0.0.2", "198.51.100.7, 203.0.113.50, 10.1.2.3")
    # 10.1.2.3 is ours; 203.0.113.50 is the first address we do not control: the client as far as we can tell.
    assert client_ip(request) == "203.0.113.50"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"], PROXY_COUNT=0)
def test_client_ip_ignores_header_from_untrusted_peer():
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


@override_settings(TRUSTED_PROXIES=["10.0.0.2"], PROXY_COUNT=0)
def test_client_ip_stops_at_garbage_in_chain():
    assert client_ip(_request("10.0.0.2", "198.51.100.1, not-an-ip")) == "10.0.0.2"


@override_settings(TRUSTED_PROXIES=[], PROXY_COUNT=1)
def test_client_ip_with_one_proxy_takes_rightmost_forwarded_address():
    assert client_ip(_request("10.0.0.2", "1.2.3.4, 198.51.100.1")) == "198.51.100.1"


@override_settings(TRUSTED_PROXIES=[], PROXY_COUNT=2)
def test_client_ip_with_two_proxies_skips_one_forwarded_hop():
    assert client_ip(_request("10.0.0.2", "1.2.3.4, 198.51.100.1, 10.9.9.9")) == "198.51.100.1"


@override_settings(TRUSTED_PROXIES=[], PROXY_COUNT=2)
def test_client_ip_with_short_chain_falls_back_to_peer():
    assert client_ip(_request("10.0.0.2", "198.51.100.1")) == "10.0.0.2"


@override_settings(TRUSTED_PROXIES=["::1"], PROXY_COUNT=0)
def test_client_ip_handles_ipv6_and_ports():
    assert client_ip(_request("::1", "[2001:db8::5]:4711")) == "2001:db8::5"


@pytest.mark.parametrize(
    ("django_route", "template"),
    [
        ("api/v1/roles/<role_id>", "/api/v1/roles/{role_id}"),
        ("api/v1/files/<uuidstr:file_id>/download", "/api/v1/files/{file_id}/download"),
        ("api/v1/health", "/api/v1/health"),
        (None, None),
    ],
)
def test_route_template_converts_django_route(django_route, template):
    assert route_template(django_route) == template


def test_parse_user_agent_names_browser_os_device():
    iphone = parse_user_agent(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    assert iphone.browser == "Mobile Safari 17.0"
    assert iphone.os == "iOS 17.0"
    assert iphone.device == "iPhone"
    desktop = parse_user_agent(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36"
    )
    assert desktop.browser.startswith("Chrome 120") and desktop.os == "Windows 10" and desktop.device == "PC"
    assert parse_user_agent("").browser == "Other"
