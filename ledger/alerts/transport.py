"""Sending one webhook request: a POST that never raises for what the network does.

The sender is injectable (`Sender`); the default is the standard library's HTTP client
(no extra dependency). Redirects are not followed: a webhook URL that moved is a failed
attempt the operator should see, and following a redirect would re-send the signed body
to a place nobody subscribed.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

#: Longest error text kept with a delivery (the database keeps the last one only).
MAX_ERROR_CHARS: Final = 500
#: How much of a response body is read (and dropped): enough to finish the exchange.
_MAX_RESPONSE_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: an HTTP status, or none and an error (connection refused,
    timeout, TLS failure, malformed response)."""

    status: int | None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        """Only a 2xx answer counts as delivered."""
        return self.status is not None and 200 <= self.status < 300


class Sender(Protocol):
    def __call__(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Outcome:
        """POST `body` with `headers` to `url`, waiting at most `timeout` seconds for
        each network step. Never raises for network or HTTP failures: returns them."""
        ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx is then raised as an HTTPError: a failed attempt


class UrllibSender:
    """`Sender` on `urllib.request`. `proxies` None uses the environment's proxy
    settings (`https_proxy`, `no_proxy`, ...); `{}` connects directly."""

    def __init__(self, *, proxies: Mapping[str, str] | None = None) -> None:
        handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
        if proxies is not None:
            handlers.append(urllib.request.ProxyHandler(dict(proxies)))
        self._opener = urllib.request.build_opener(*handlers)

    def __call__(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Outcome:
        # Only http(s) URLs reach here: subscriptions refuse every other scheme.
        request = urllib.request.Request(  # noqa: S310
            url, data=body, headers=dict(headers), method="POST"
        )
        try:
            with self._opener.open(request, timeout=timeout) as response:
                response.read(_MAX_RESPONSE_BYTES)
                return Outcome(status=int(response.status))
        except urllib.error.HTTPError as exc:
            with exc:
                return Outcome(status=exc.code, error=_clip(f"HTTP {exc.code} {exc.reason}"))
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                return Outcome(status=None, error=f"timed out after {timeout:g} s")
            return Outcome(status=None, error=_clip(f"connection failed: {reason}"))
        except TimeoutError:
            return Outcome(status=None, error=f"timed out after {timeout:g} s")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return Outcome(status=None, error=_clip(f"{type(exc).__name__}: {exc}"))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
