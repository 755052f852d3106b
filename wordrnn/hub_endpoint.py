"""Where the Hugging Face Hub is (HF_ENDPOINT, read at each call), and whether it answers now.

The Hub client retries an unreachable endpoint for many seconds before it gives up; this short
TCP probe (to the endpoint, or to the proxy the client would use) lets wordrnn.hub serve an
offline machine from its cache (or fail) at once. Kept apart from wordrnn/hub.py, which asks
the Hub's API for a checkpoint's files, because it only reads the environment and opens a
socket; wordrnn.hub re-exports both functions.
"""

from __future__ import annotations

import os
import socket
import urllib.request
from urllib.parse import ParseResult, urlparse

from huggingface_hub import constants


def endpoint() -> str:
    """The Hub URL, read now: HF_ENDPOINT if set, else huggingface_hub's default.

    huggingface_hub reads HF_ENDPOINT once, when it is imported; wordrnn reads it at each call
    and passes it to the client explicitly, so setting it later (tests, notebooks) takes effect.
    """
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection opens within `timeout` seconds to where the Hub client would
    connect: the proxy that HTTP(S)_PROXY or ALL_PROXY name for the endpoint (NO_PROXY aside), as
    httpx reads them, else the endpoint itself (behind a proxy its host may not even resolve)."""
    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(endpoint())
    target = _proxy(url) or url
    port = target.port or _PORTS.get(target.scheme, 80)
    try:
        with socket.create_connection((target.hostname, port), timeout=timeout):
            return True
    except (OSError, ValueError):  # ValueError: a port out of range in a proxy variable
        return False


_PORTS = {"https": 443, "socks5": 1080, "socks5h": 1080, "socks4": 1080}


def _proxy(url: ParseResult) -> ParseResult | None:
    """The proxy a request to `url` goes through per the environment (what httpx reads too)."""
    proxies = urllib.request.getproxies()
    if not url.hostname or urllib.request.proxy_bypass(url.hostname):
        return None
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy:
        return None
    return urlparse(proxy if "://" in proxy else f"http://{proxy}")
