"""A project's own iFlows on the emulated tenant (its iflows.yaml): stub behaviours over real HTTPS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from iflowtest.emulator import Emulator
from iflowtest.emulator.catalog import Catalog, CatalogError

FLOW = """
  - name: {name}
    address: {address}
    methods: [GET, POST]
    role: ESBMessaging.send
    csrf: false
    behaviour: {behaviour}
"""


def write_catalog(root: Path, text: str) -> Path:
    path = root / "iflows.yaml"
    path.write_text("iflows:\n" + text)
    return path


@pytest.fixture
def stubbed(tmp_path: Path) -> Iterator[tuple[Emulator, tuple[str, str]]]:
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "order.json").write_text('{"order": "${query.id}", "by": "${header.X-User}"}')
    cassette = tmp_path / "cassettes" / "orders" / "test_read.yaml"
    cassette.parent.mkdir(parents=True)
    cassette.write_text(
        "version: 1\ninteractions:\n- request:\n    method: GET\n    uri: '{runtime}/http/partner/orders?id=7'\n"
        "    body: null\n    headers: {}\n  response:\n    status: {code: 200, message: OK}\n"
        '    headers:\n      Content-Type: [application/json]\n    body:\n      string: \'{"id": "7", "self": "{runtime}/x"}\'\n'
    )
    text = (
        FLOW.format(name="OrderFile", address="/http/orders", behaviour="respond")
        + "    allowed_headers: [X-User]\n"
        + "    options: {body_file: fixtures/order.json, headers: {X-Order: '${query.id}'}}\n"
        + FLOW.format(name="Greeting", address="/http/greeting", behaviour="respond")
        + "    options:\n      status: 201\n      content_type: text/plain\n"
        + "      body: 'hello ${json.customer.name} / ${xml.Name} / ${json.items.1}'\n"
        + FLOW.format(name="Mirror", address="/http/mirror", behaviour="echo")
        + FLOW.format(name="Slow", address="/http/slow", behaviour="delay")
        + "    options: {seconds: 0.2, body: '{}'}\n"
        + FLOW.format(name="Broken", address="/http/broken", behaviour="fail")
        + "    options: {error: 'java.lang.IllegalStateException: partner system down'}\n"
        + FLOW.format(name="PartnerOrders", address="/http/partner/orders", behaviour="replay")
    )
    catalog = write_catalog(tmp_path, text)
    with Emulator(project_catalog=catalog, project_root=tmp_path) as emu:
        key = emu.issue_service_key("sender")["oauth"]
        yield emu, (key["clientid"], key["clientsecret"])
        emu.check_errors()


def call(emu: Emulator, auth: tuple[str, str], method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(method, emu.url + path, auth=auth, verify=str(emu.ca_file), timeout=10, **kwargs)  # type: ignore[arg-type]


def test_respond_fills_a_body_file_and_headers_from_the_request(stubbed: tuple[Emulator, tuple[str, str]]) -> None:
    emu, auth = stubbed
    response = call(emu, auth, "GET", "/http/orders", params={"id": "4711"}, headers={"X-User": "ann"})
    assert response.status_code == 200
    assert response.json() == {"order": "4711", "by": "ann"}
    assert response.headers["X-Order"] == "4711"
    assert response.headers["Content-Type"].startswith("application/json")


def test_respond_takes_values_from_json_and_xml_bodies(stubbed: tuple[Emulator, tuple[str, str]]) -> None:
    emu, auth = stubbed
    body = {"customer": {"name": "ACME"}, "items": ["a", "b"]}
    response = call(emu, auth, "POST", "/http/greeting", json=body)
    assert response.status_code == 500  # no XML element Name in a JSON body: the message fails, no silent gap
    assert "stub Greeting: ${xml.Name} has no value in this request" in response.text
    assert "The MPL ID for the failed message is : AG" in response.text


def test_respond_from_an_xml_body(tmp_path: Path) -> None:
    text = FLOW.format(name="Hello", address="/http/hello", behaviour="respond") + (
        "    options: {status: 201, content_type: text/plain, body: 'hello ${xml.Name}'}\n"
    )
    with Emulator(project_catalog=write_catalog(tmp_path, text), project_root=tmp_path) as emu:
        key = emu.issue_service_key("sender")["oauth"]
        response = call(
            emu, (key["clientid"], key["clientsecret"]), "POST", "/http/hello", data=b"<a><Name>Ann</Name></a>"
        )
    assert (response.status_code, response.text) == (201, "hello Ann")


def test_a_header_that_is_not_allowed_does_not_reach_the_stub(tmp_path: Path) -> None:
    text = FLOW.format(name="Hello", address="/http/hello", behaviour="respond") + (
        "    options: {body: 'hello ${header.X-User}'}\n"
    )
    with Emulator(project_catalog=write_catalog(tmp_path, text), project_root=tmp_path) as emu:
        key = emu.issue_service_key("sender")["oauth"]
        response = call(emu, (key["clientid"], key["clientsecret"]), "GET", "/http/hello", headers={"X-User": "ann"})
    assert response.status_code == 500
    assert (
        "stub Hello: ${header.X-User}: header X-User does not reach the flow; add it to the flow's allowed_headers"
        in response.text
    )


def test_echo_delay_and_fail(stubbed: tuple[Emulator, tuple[str, str]]) -> None:
    emu, auth = stubbed
    echoed = call(emu, auth, "POST", "/http/mirror", data=b"<x/>", headers={"Content-Type": "application/xml"})
    assert (echoed.status_code, echoed.content, echoed.headers["Content-Type"]) == (200, b"<x/>", "application/xml")
    started = time.monotonic()
    assert call(emu, auth, "GET", "/http/slow").status_code == 200
    assert time.monotonic() - started >= 0.2
    failed = call(emu, auth, "GET", "/http/broken")
    assert failed.status_code == 500
    assert failed.text.startswith(
        "An internal server error occured: java.lang.IllegalStateException: partner system down"
    )


def test_every_stubbed_call_writes_a_message_log(stubbed: tuple[Emulator, tuple[str, str]]) -> None:
    emu, auth = stubbed
    call(emu, auth, "POST", "/http/mirror", data=b"x")
    call(emu, auth, "GET", "/http/broken")
    logs = {m.iflow: m for m in emu.messages}
    assert logs["Mirror"].status == "COMPLETED"
    assert logs["Broken"].status == "FAILED"
    assert logs["Broken"].error_text == "java.lang.IllegalStateException: partner system down"


def test_replay_answers_from_the_projects_cassettes(stubbed: tuple[Emulator, tuple[str, str]]) -> None:
    emu, auth = stubbed
    response = call(emu, auth, "GET", "/http/partner/orders", params={"id": "7"})
    assert response.status_code == 200
    assert response.json() == {"id": "7", "self": f"{emu.url}/x"}
    missing = call(emu, auth, "GET", "/http/partner/orders", params={"id": "8"})
    assert missing.status_code == 500
    assert (
        "stub PartnerOrders: no recorded interaction in cassettes/ answers GET /http/partner/orders?id=8"
        in missing.text
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "  - name: X\n    address: /http/x\n   methods: [GET]\n",
            "iflows.yaml: not valid YAML at line 4, column 4: expected <block end>",
        ),
        (
            FLOW.format(name="ReadCostCenters", address="/http/mine", behaviour="echo"),
            "iflows.yaml: flow 'ReadCostCenters', key 'name': a sample flow in iflowtest's sample iflows.yaml has "
            "this name; rename the flow in the project's catalog",
        ),
        (
            FLOW.format(name="Mine", address="/http/CostCenters", behaviour="echo"),
            "iflows.yaml: flow 'Mine', key 'address': /http/CostCenters is already the address of flow "
            "'ReadCostCenters' in iflowtest's sample iflows.yaml; addresses must be unique across the tenant",
        ),
        (
            FLOW.format(name="Mine", address="/http/mine", behaviour="respnd"),
            "iflows.yaml: flow 'Mine', key 'behaviour': expected one of change_cost_center, delay, echo, enqueue, fail, "
            "get_cost_center, odata_passthrough, read_cost_centers, receive_idoc, replay, respond, got 'respnd'",
        ),
        (
            FLOW.format(name="Mine", address="/http/mine", behaviour="respond")
            + "    options: {body_file: ../x.json}\n",
            "iflows.yaml: flow 'Mine', key 'options.body_file': '../x.json' lies outside the project",
        ),
    ],
)
def test_bad_project_catalogs_are_one_line_naming_the_files(tmp_path: Path, text: str, message: str) -> None:
    path = write_catalog(tmp_path, text)
    with pytest.raises(CatalogError) as raised:
        Catalog.load().merged(
            Catalog.load_project(path, tmp_path), samples="iflowtest's sample iflows.yaml", project="iflows.yaml"
        )
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_project_catalog_whose_aliases_explode_is_one_line(tmp_path: Path) -> None:
    # Nine levels of ten aliases each: a billion values once expanded, a few hundred bytes on disk.
    levels = ['      l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"      l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 9)]
    text = (
        FLOW.format(name="Bomb", address="/http/bomb", behaviour="respond")
        + "    options:\n"
        + "\n".join(levels)
        + "\n"
    )
    path = write_catalog(tmp_path, text)
    with pytest.raises(CatalogError) as raised:
        Catalog.load_project(path, tmp_path)
    message = str(raised.value)
    assert message.startswith("iflows.yaml: not valid YAML at line "), message
    assert "its anchors and aliases expand to more than 200000 values" in message and "\n" not in message


def test_a_stub_json_answer_keeps_its_types(stubbed: tuple[Emulator, tuple[str, str]]) -> None:
    emu, auth = stubbed
    response = call(emu, auth, "POST", "/http/orders?id=1", data=json.dumps({}), headers={"X-User": "b"})
    assert response.json()["order"] == "1"
