"""A signed JSON POST with retries: how alert changes reach a chat, a pager or an incident tool.

The body is signed with HMAC-SHA256 over its exact bytes, sent as ``X-Outgrow-Signature: sha256=<hex>`` (the
scheme GitHub's webhooks use), so a receiver that knows the secret can tell outgrow's POSTs from anyone
else's; :func:`verify_signature` is the receiver's check. Transient failures (no connection, a timeout, HTTP
5xx or 429) are retried with exponential backoff; other 4xx mean the request itself is wrong and are not.
A POST that still fails is returned as a failed :class:`DeliveryResult`, never raised: monitoring must not
take the application down with it.

urllib.request, not a new dependency, as one POST a minute at most needs no connection pool. Redirects are
refused rather than followed, because urllib follows a 302 to a POST with a GET without the body, which
would count as delivered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from outgrow.errors import ConfigurationError
from outgrow.settings import Settings, env_name
from outgrow.urls import mask_url

__all__ = ["SIGNATURE_HEADER", "DeliveryResult", "Webhook", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Outgrow-Signature"
_MAX_BACKOFF_S = 30.0
_RESPONSE_LIMIT = 65536  # bytes of the answer read (and ignored) so the server sees the request completed


def sign(body: bytes, secret: str) -> str:
    """The ``X-Outgrow-Signature`` value for ``body``: ``sha256=`` and the hex HMAC-SHA256 keyed by ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: str, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` with ``secret`` (compared in constant time)."""
    if not header:
        return False
    # Bytes on both sides: compare_digest refuses non-ASCII str, and a forged header may be anything.
    return hmac.compare_digest(sign(body, secret).encode(), header.strip().encode("utf-8", "replace"))


@dataclass(frozen=True)
class DeliveryResult:
    """How one POST went. ``target`` is the URL's scheme, host and port only: never its credentials."""

    target: str
    ok: bool
    attempts: int
    status: int | None  # the last HTTP status (None: no answer)
    error: str | None = None


@dataclass(frozen=True, repr=False)
class Webhook:
    """Where alert batches are POSTed, and how hard to try."""

    url: str
    secret: str | None = None
    timeout_s: float = 5.0  # per attempt
    attempts: int = 5
    backoff_s: float = 0.5  # wait before the second attempt; doubled for each further one, at most 30 s

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        try:
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
        except ValueError:  # a port that is not a number
            valid = False
        if not valid:
            raise ConfigurationError(f"alert webhook URL {mask_url(self.url)!r} is not an http(s) URL",
                                     hint=f"set {env_name('alert_webhook_url')} to e.g. https://hooks.example.com/outgrow")
        if self.secret == "":
            raise ConfigurationError("alert webhook secret is empty", hint=f"set {env_name('alert_webhook_secret')} "
                                     "to a long random string, or unset it")
        if self.attempts < 1 or self.timeout_s <= 0 or self.backoff_s < 0:
            raise ConfigurationError("alert webhook needs attempts >= 1, timeout_s > 0 and backoff_s >= 0")

    @classmethod
    def from_settings(cls, settings: Settings) -> Webhook | None:
        """The webhook the settings configure, or None when ``alert_webhook_url`` is unset."""
        if not settings.alert_webhook_url:
            return None
        secret = settings.alert_webhook_secret.get_secret_value() if settings.alert_webhook_secret else ""
        return cls(settings.alert_webhook_url, secret or None)

    @property
    def target(self) -> str:
        """What logs show: scheme, host and port. Chat webhooks carry their token in the path, so no path."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")

    def __repr__(self) -> str:
        return f"Webhook({self.target!r}, signed={self.secret is not None}, attempts={self.attempts})"

    def post_json(self, payload: Any) -> DeliveryResult:
        """POST ``payload`` as compact JSON (see :meth:`post`); never raises."""
        try:  # strict JSON: NaN or an object json cannot write fails here, not in the receiver's parser
            body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            return DeliveryResult(self.target, False, 0, None, f"not JSON: {exc}")
        return self.post(body)

    def post(self, body: bytes) -> DeliveryResult:
        """POST ``body`` (JSON), retrying transient failures; never raises."""
        attempts = 0
        last_status: int | None = None

        def attempt() -> int:
            nonlocal attempts, last_status
            attempts += 1
            last_status = None
            try:
                last_status = self._post_once(body)
            except urllib.error.HTTPError as exc:
                last_status = exc.code
                raise
            return last_status

        retrying = Retrying(stop=stop_after_attempt(self.attempts),
                            wait=wait_exponential(multiplier=self.backoff_s, max=_MAX_BACKOFF_S),
                            retry=retry_if_exception(_transient), reraise=True)
        try:
            status = retrying(attempt)
        except Exception as exc:  # anything at all: a failed delivery must not crash the application
            return DeliveryResult(self.target, False, attempts, last_status, _describe(exc, self.timeout_s))
        return DeliveryResult(self.target, True, attempts, status)

    def _post_once(self, body: bytes) -> int:
        parts = urlsplit(self.url)
        headers = {"Content-Type": "application/json", "User-Agent": "outgrow-alerts"}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, self.secret)
        netloc = parts.netloc
        if parts.username is not None:
            # urllib does not send a URL's user:password itself: turn it into Basic auth, off the request line.
            netloc = netloc.rpartition("@")[2]
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (http(s) checked)
        opener = urllib.request.build_opener(_RefuseRedirects)
        try:
            with opener.open(request, timeout=self.timeout_s) as response:
                response.read(_RESPONSE_LIMIT)
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()  # its body is an open response; closing it avoids a ResourceWarning per failure
            raise


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError(3xx): a failure, not retried


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code == 429
    return isinstance(exc, (OSError, HTTPException))  # URLError, refused, reset, timed out, a garbled answer


def _describe(exc: BaseException, timeout_s: float) -> str:
    # Built from the parts, not str(exc): the message never needs to, and so never can, carry the URL.
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
