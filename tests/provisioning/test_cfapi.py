"""The CF V3 client against a hostile or broken Cloud Foundry API on loopback: one CloudFoundryError line each."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from iflowtest.emulator.tls import create_tls
from iflowtest.errors import CloudFoundryError
from iflowtest.provisioning.cfapi import CfCredentials, CloudFoundryClient
from iflowtest.redaction import Secret
from tests.servers import serve

PASSWORD = "cf-password-for-a-hostile-api"


def as_json(body: object) -> Response:
    return Response(json.dumps(body), content_type="application/json")


@contextmanager
def cloud_foundry(
    spaces: Callable[[Request, str], Response], token: Callable[[], Response] | None = None
) -> Iterator[tuple[CloudFoundryClient, str]]:
    def api(request: Request) -> Response:
        if request.path == "/":
            return as_json({"links": {"uaa": {"href": f"{url}/uaa"}}})
        if request.path == "/uaa/oauth/token":
            if token is not None:
                return token()
            return as_json({"access_token": "cf-access", "token_type": "bearer", "expires_in": 600})
        return spaces(request, url)

    with tempfile.TemporaryDirectory() as folder, serve(api, tls := create_tls(directory=Path(folder))) as url:
        credentials = CfCredentials(username="u", password=Secret(PASSWORD))
        client = CloudFoundryClient(url, credentials, verify=str(tls.ca_file))
        try:
            yield client, url
        finally:
            client.close()


def test_a_next_page_on_another_host_is_read_from_the_apis_own_host() -> None:
    elsewhere: list[str] = []

    def other(request: Request) -> Response:
        elsewhere.append(request.headers.get("Authorization", ""))
        return as_json({"resources": [], "pagination": {"next": None}})

    def spaces(request: Request, url: str) -> Response:
        if request.args.get("page") == "2":
            return as_json({"resources": [{"name": "second"}], "pagination": {"next": None}})
        return as_json({"resources": [{"name": "first"}], "pagination": {"next": {"href": f"{far}/v3/spaces?page=2"}}})

    with serve(other) as far, cloud_foundry(spaces) as (client, _url):
        assert [s["name"] for s in client.list("/v3/spaces")] == ["first", "second"]
    assert elsewhere == []  # the bearer token never went to the other host


def test_next_pages_in_a_circle_end_with_one_line() -> None:
    def spaces(_request: Request, url: str) -> Response:
        return as_json({"resources": [{"name": "again"}], "pagination": {"next": {"href": f"{url}/v3/spaces?page=2"}}})

    with (
        cloud_foundry(spaces) as (client, _url),
        pytest.raises(CloudFoundryError, match=r"next-page links go round in a circle"),
    ):
        list(client.list("/v3/spaces"))


@pytest.mark.parametrize(
    "page",
    [
        [{"name": "a list, not a page"}],
        {"resources": {"name": "x"}},
        {"resources": ["x"]},
        {"resources": [], "pagination": {"next": "not an object"}},
        {"resources": [], "pagination": {"next": {"href": 7}}},
    ],
)
def test_a_page_of_another_shape_is_one_line(page: object) -> None:
    with (
        cloud_foundry(lambda _request, _url: as_json(page)) as (client, _url),
        pytest.raises(CloudFoundryError, match=r"^GET \S+/v3/spaces answered no V3 list of resources: ") as info,
    ):
        list(client.list("/v3/spaces"))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (lambda: Response("[" * 100_000 + "]" * 100_000, content_type="application/json"), "nests deeper than 200"),
        (lambda: as_json([1, 2]), "answered no JSON token (list)"),
        (
            lambda: as_json({"access_token": {"not": "text"}, "token_type": "bearer"}),
            "answered without an access_token",
        ),
    ],
    ids=["deep", "list", "token-not-text"],
)
def test_a_hostile_uaa_answer_is_one_line(answer: Callable[[], Response], said: str) -> None:
    with (
        cloud_foundry(lambda _request, _url: as_json({"resources": []}), token=answer) as (client, _url),
        pytest.raises(CloudFoundryError) as info,
    ):
        list(client.list("/v3/spaces"))
    assert said in str(info.value) and "\n" not in str(info.value) and PASSWORD not in str(info.value)


@pytest.mark.parametrize("lifetime", ['"Infinity"', '"NaN"', '"soon"', "1e400"])
def test_a_senseless_uaa_token_lifetime_is_the_default(lifetime: str) -> None:
    def token() -> Response:
        body = f'{{"access_token": "cf-access", "token_type": "bearer", "expires_in": {lifetime}}}'
        return Response(body, content_type="application/json")

    with cloud_foundry(lambda _request, _url: as_json({"resources": [{"name": "dev"}]}), token=token) as (client, _):
        assert [s["name"] for s in client.list("/v3/spaces")] == ["dev"]


def test_deep_json_from_the_api_is_one_line() -> None:
    deep = Response("[" * 100_000 + "]" * 100_000, content_type="application/json")
    with (
        cloud_foundry(lambda _request, _url: deep) as (client, _url),
        pytest.raises(CloudFoundryError, match=r"that is not JSON \(the JSON document nests deeper than 200"),
    ):
        client.get("/v3/spaces")
