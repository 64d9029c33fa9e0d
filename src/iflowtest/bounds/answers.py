"""Answers read with bounds: the body's size once decompressed, and the nesting of the JSON in it.

Every HTTP session of the harness (iFlow calls, the token endpoint, the message-log, runtime-artifact and CF
APIs) mounts a `BoundedAdapter` or an adapter built on it, so a gzip bomb or a 100,000-deep JSON answer from
any of them is one clear error where it is read, never a MemoryError, a RecursionError or a crashed session.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from iflowtest.bounds import nesting
from iflowtest.errors import IflowCallError

# The most an answer may grow to once decompressed: a remote side decides what it sends, and a gzip bomb of
# a few kilobytes would otherwise expand into all of this machine's memory.
MAX_BODY_BYTES: Final = 64 * 1024 * 1024


class TooDeepJSONError(nesting.TooDeepError, requests.exceptions.JSONDecodeError):
    """`json()` of an answer nested deeper than the bound: a ValueError and requests' JSONDecodeError both, so
    every caller that handles an answer that is not JSON (the harness, oauthlib, a user's test) handles it."""

    def __init__(self, limit: int) -> None:
        requests.exceptions.JSONDecodeError.__init__(self, "", "", 0)
        self.limit = limit

    def __str__(self) -> str:
        return str(nesting.TooDeepError(self.limit))


class BoundedResponse(requests.Response):
    """A `requests.Response` whose `json()` refuses a document nested deeper than `nesting.MAX_DEPTH`."""

    def json(self, **kwargs: Any) -> Any:
        try:
            nesting.check(self.content)
            return super().json(**kwargs)
        except (nesting.TooDeepError, RecursionError):
            raise TooDeepJSONError(nesting.MAX_DEPTH) from None


class BoundedAdapter(HTTPAdapter):
    """requests' adapter whose answers are `BoundedResponse`s with bodies read up to `max_body_bytes`."""

    max_body_bytes: int = MAX_BODY_BYTES

    def send(self, request: requests.PreparedRequest, stream: bool = False, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = self.send_unread(request, **kwargs)
        if not stream:
            read_bounded(response, self.max_body_bytes)
        return response

    def send_unread(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """requests' send with the body left unread (as `stream=True`), for the caller to read with a bound."""
        return super().send(request, stream=True, **kwargs)

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        # requests builds a plain Response and offers no factory to ask for another; the subclass adds no state.
        response.__class__ = BoundedResponse
        return response


def read_bounded(response: requests.Response, limit: int) -> None:
    """Read the whole (decompressed) body into the response, or raise IflowCallError past `limit` bytes.

    requests reads unbounded; this is its own reading loop (`iter_content`) with a count, then the body is
    kept where requests keeps a consumed body, so `content`, `text` and `json()` work as usual.
    """
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(256 * 1024):
        size += len(chunk)
        if size > limit:
            response.close()
            encoding = response.headers.get("Content-Encoding")
            how = f" (Content-Encoding {encoding})" if encoding else ""
            raise IflowCallError(
                f"{response.request.method} {_short(response.url)}: the answer is larger than {limit // (1024 * 1024)} "
                f"MiB once decompressed{how}; check what the endpoint sends"
            )
        chunks.append(chunk)
    response._content = b"".join(chunks)  # where requests keeps a read body (no public setter exists)


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
