"""The iFlow client over real HTTPS: CSRF handshake, MPL ids, timing, timeouts and redirects."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import requests
from werkzeug.wrappers import Request, Response

from iflowtest import CsrfError, IflowCallError, IflowClient, ServiceKey, mpl_id_of, record_of
from iflowtest.credentials.tokens import BasicClientAuth, BearerAuth, OAuthToken
from iflowtest.emulator import Emulator
from iflowtest.errors import RuntimeUnreachableError
from tests.servers import serve

IssueKey = Callable[..., ServiceKey]
CHANGE = "/http/costcenters/changerequest"


def change_request(cost_center: str) -> bytes:
    return (
        "<CostCenterChangeRequest><ControllingArea>A000</ControllingArea>"
        f"<CostCenter>{cost_center}</CostCenter><ValidFrom>2026-01-01</ValidFrom>"
        '<Changes><Field name="CostCtrResponsiblePersonName">J. Smith</Field></Changes>'
        "</CostCenterChangeRequest>"
    ).encode()


@pytest.fixture
def client(fresh_emulator: Emulator, issue_key: IssueKey) -> Iterator[IflowClient]:
    key = issue_key(fresh_emulator, "sender")
    token = OAuthToken(key, "sender", verify=str(fresh_emulator.ca_file))
    with IflowClient(key.url, BearerAuth(token), client_name="sender", verify=str(fresh_emulator.ca_file)) as c:
        yield c


@pytest.fixture
def cost_center(client: IflowClient) -> str:
    rows = client.get("/http/costcenters", params={"companyCode": "1010", "$top": "1"}).json()["d"]["results"]
    return str(rows[0]["CostCenter"])


def test_csrf_handshake_is_transparent(client: IflowClient, fresh_emulator: Emulator, cost_center: str) -> None:
    first = client.post(CHANGE, data=change_request(cost_center))
    second = client.post(CHANGE, data=change_request(cost_center))

    assert (first.status_code, second.status_code) == (200, 200)
    assert fresh_emulator.counters.csrf_fetches() == 1  # the token is cached for later calls
    assert fresh_emulator.counters.calls("ChangeCostCenter", 403) == 1  # only the very first call was refused
    assert [r.status for r in client.records[-2:]] == [200, 200]


def test_rejected_csrf_token_is_refetched_once(client: IflowClient, fresh_emulator: Emulator, cost_center: str) -> None:
    assert client.post(CHANGE, data=change_request(cost_center)).status_code == 200
    fresh_emulator.invalidate_csrf_tokens()

    response = client.post(CHANGE, data=change_request(cost_center))

    assert response.status_code == 200
    assert fresh_emulator.counters.csrf_fetches() == 2


def test_csrf_that_never_sticks_is_a_clear_error(
    fresh_emulator: Emulator, issue_key: IssueKey, cost_center: str
) -> None:
    key = issue_key(fresh_emulator, "nocookies")

    class DropCookies(requests.Session):
        def request(self, *args: object, **kwargs: object) -> requests.Response:  # type: ignore[override]
            self.cookies.clear()  # a proxy that strips JSESSIONID
            return super().request(*args, **kwargs)  # type: ignore[arg-type]

    client = IflowClient(key.url, BasicClientAuth(key), verify=str(fresh_emulator.ca_file), session=DropCookies())
    with pytest.raises(
        CsrfError, match=r"POST .*/http/costcenters/changerequest still demands a CSRF token after a fresh fetch"
    ):
        client.post(CHANGE, data=change_request(cost_center))


def test_mpl_id_from_header_and_from_the_500_body(fresh_emulator: Emulator, client: IflowClient) -> None:
    ok = client.get("/http/costcenters", params={"companyCode": "1010"})
    failed = client.get("/http/failing")
    assert mpl_id_of(ok) == ok.headers["SAP_MessageProcessingLogID"]
    assert mpl_id_of(failed) == failed.headers["sap_messageprocessinglogid"]

    fresh_emulator.mpl_header = False
    ok = client.get("/http/costcenters", params={"companyCode": "1010"})
    failed = client.get("/http/failing")

    assert mpl_id_of(ok) is None
    record = record_of(failed)
    assert record is not None and record.mpl_id is not None
    assert f"The MPL ID for the failed message is : {record.mpl_id}" in failed.text
    assert record.mpl_id in {m.message_guid for m in fresh_emulator.messages}


def test_every_call_is_timed_and_recorded(client: IflowClient) -> None:
    seen = []
    client.add_listener(lambda record, response: seen.append((record, response.status_code)))

    client.get("/http/costcenters", params={"companyCode": "1010"})
    client.get("/http/does-not-exist")

    assert [(r.method, r.status) for r, _ in seen] == [("GET", 200), ("GET", 404)]
    assert all(r.elapsed_ms > 0 for r, _ in seen)
    assert seen[0][0].url.endswith("/http/costcenters?companyCode=1010")


def test_views_share_session_and_csrf_state(client: IflowClient, fresh_emulator: Emulator, cost_center: str) -> None:
    view = client.for_iflow("ChangeCostCenter", CHANGE)
    other = client.for_iflow("ChangeCostCenter", CHANGE)

    assert view.post(data=change_request(cost_center)).status_code == 200
    assert other.post(data=change_request(cost_center)).status_code == 200

    assert fresh_emulator.counters.csrf_fetches() == 1
    assert view.session is client.session
    assert [r.iflow for r in other.records] == ["ChangeCostCenter"]
    assert [r.method for r in client.records] == ["GET"]  # the fixture's read; each view keeps its own records


def test_path_is_required_without_an_iflow_address(client: IflowClient) -> None:
    with pytest.raises(IflowCallError, match="no path given and iFlow None has no address"):
        client.get()


def test_authorization_is_not_forwarded_across_hosts() -> None:
    seen: dict[str, str | None] = {}

    def target(request: Request) -> Response:
        seen["authorization"] = request.headers.get("Authorization")
        return Response("ok")

    with serve(target) as other_host:

        def redirect(request: Request) -> Response:
            seen["first"] = request.headers.get("Authorization")
            return Response(status=302, headers={"Location": other_host + "/landing"})

        with serve(redirect) as first_host:
            auth = requests.auth.HTTPBasicAuth("client", "secret-basic-password")
            client = IflowClient(first_host, auth)
            response = client.get("/http/moved")

    assert response.status_code == 200
    assert seen["first"] is not None and seen["first"].startswith("Basic ")
    assert seen["authorization"] is None


def test_read_timeout_names_the_limit_and_fix() -> None:
    release = threading.Event()

    def hang(_request: Request) -> Response:
        release.wait(10)
        return Response("late")

    with serve(hang) as url:
        client = IflowClient(url, requests.auth.HTTPBasicAuth("a", "b"), timeout=(2.0, 0.3))
        try:
            with pytest.raises(
                IflowCallError,
                match=r"GET .*/http/slow timed out \(limits: connect 2.0 s, read 0.3 s; ReadTimeout\): raise IFLOWTEST_READ_TIMEOUT",
            ):
                client.get("/http/slow")
        finally:
            release.set()


def test_read_timeout_in_the_middle_of_the_body_is_a_timeout_not_an_unreachable_runtime() -> None:
    release = threading.Event()

    def stall(_request: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield b"x" * 1000
            release.wait(10)  # headers and the first bytes are out; the rest comes too late
            yield b"y" * 1000

        return Response(body(), headers={"Content-Length": "2000"})

    with serve(stall) as url:
        client = IflowClient(url, requests.auth.HTTPBasicAuth("a", "b"), timeout=(2.0, 0.3), iflow="Slow")
        try:
            with pytest.raises(IflowCallError) as caught:
                client.get("/http/slow")
        finally:
            release.set()

    assert str(caught.value) == (
        f"iFlow 'Slow': GET {url}/http/slow timed out while reading the answer's body (limits: connect 2.0 s, "
        "read 0.3 s): raise IFLOWTEST_READ_TIMEOUT (or the case's @pytest.mark.iflow_timeout(read=S)) if the iFlow "
        "is slow by design"
    )


def test_untrusted_runtime_certificate_points_to_the_ca_bundle(fresh_emulator: Emulator, issue_key: IssueKey) -> None:
    key = issue_key(fresh_emulator, "sender")
    # The emulator's own CA is not given: like a corporate proxy's certificate the machine does not trust.
    client = IflowClient(key.url, BasicClientAuth(key), iflow="ReadCostCenters", verify=True)
    client.session.trust_env = False  # REQUESTS_CA_BUNDLE of the machine must not decide this

    with pytest.raises(IflowCallError) as caught:
        client.get("/http/costcenters", params={"companyCode": "1010"})

    message = str(caught.value)
    assert message.startswith(
        f"iFlow 'ReadCostCenters': GET {key.url}/http/costcenters failed: TLS verification failed ("
    )
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert message.endswith(
        "set IFLOWTEST_CA_BUNDLE to your corporate CA bundle if a proxy re-signs traffic, or check the runtime url "
        "of the service key"
    )
    assert key.clientsecret.reveal() not in message and "companyCode" not in message


def test_mpl_header_lookup_is_case_insensitive() -> None:
    response = requests.Response()
    response.status_code = 200
    response.headers["sap_messageprocessinglogid"] = "AGaaaaaaaaaaaaaaaaaaaaaaaaaa"
    assert mpl_id_of(response) == "AGaaaaaaaaaaaaaaaaaaaaaaaaaa"


@pytest.mark.parametrize(
    "headers", [{"X-A": "v\r\nX-Injected: 1"}, {"X-A": "v\nHost: elsewhere"}], ids=["crlf-header", "lf-header"]
)
def test_a_header_value_with_a_line_break_is_not_sent_and_says_so(headers: dict[str, str]) -> None:
    seen: list[dict[str, str]] = []

    def target(request: Request) -> Response:
        seen.append(dict(request.headers))
        return Response("ok")

    with serve(target) as url:
        client = IflowClient(url, requests.auth.HTTPBasicAuth("client", "secret-basic-password"))
        with pytest.raises(IflowCallError) as info:
            client.get("/http/x", headers=headers)
    assert seen == []  # nothing was sent, so no header could be injected
    said = str(info.value)
    assert "was not sent" in said and "fix the request in the test or suite" in said and "\n" not in said, said


def test_a_line_break_in_a_path_is_sent_percent_encoded_never_as_a_header() -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    def target(request: Request) -> Response:
        seen.append((request.environ["RAW_URI"], dict(request.headers)))
        return Response("ok")

    with serve(target) as url:
        client = IflowClient(url, requests.auth.HTTPBasicAuth("client", "secret-basic-password"))
        assert client.get("/http/x\r\nX-Injected: 1").status_code == 200
    [(raw, headers)] = seen
    assert raw.startswith("/http/x%0D%0AX-Injected:") and "X-Injected" not in headers


def odd_answers(request: Request) -> Response:
    if request.path == "/loop":
        return Response(status=302, headers={"Location": "/loop"})
    if request.path == "/file":
        return Response(status=302, headers={"Location": "file:///etc/passwd"})
    if request.path == "/many-headers":
        return Response("x", headers=[(f"X-{i}", "v") for i in range(200)])
    return Response("x", headers={"X-Long": "v" * 100_000})


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/loop", "failed: redirected more than 30 times (last to /loop); expected an answer: the endpoint redirects"),
        (
            "/file",
            "No connection adapters were found for 'file:///etc/passwd'; the harness sends and follows http(s) only",
        ),
        ("/many-headers", "the answer broke HTTP's limits (HTTPException: got more than 100 headers)"),
        ("/long-header", "the answer broke HTTP's limits (LineTooLong: got more than 65536 bytes"),
    ],
)
def test_answers_that_break_http_or_redirect_for_ever_are_one_line(path: str, said: str) -> None:
    with serve(odd_answers) as url:
        client = IflowClient(url, requests.auth.HTTPBasicAuth("client", "secret-basic-password"))
        with pytest.raises(IflowCallError) as info:
            client.get(path)
    assert said in str(info.value) and "\n" not in str(info.value), str(info.value)
    assert not isinstance(info.value, RuntimeUnreachableError)  # the runtime answered: not "cannot connect"
