"""`iflowtest init`: a working project in an empty folder, merged into what is there, never overwriting."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from iflowtest.project.init import init_project
from tests.servers import iflowtest

STUB = """
  - name: Shipments
    address: /http/shipments/*
    methods: [POST]
    role: ESBMessaging.send
    behaviour: respond
    allowed_headers: [X-Carrier]
    options:
      status: 201
      content_type: application/json
      body: '{"shipment": "${json.id}", "carrier": "${header.X-Carrier}"}'
"""
CASE = """iflow: Shipments
cases:
  - name: a shipment is created
    request:
      method: POST
      path: /http/shipments/new
      headers: {X-Carrier: DHL}
      body: {json: {id: "S-1"}}
    expect:
      status: 201
      json:
        "$.shipment": S-1
        "$.carrier": DHL
      mpl: {status: COMPLETED}
"""


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "reports" not in p.parts
    }


def test_init_run_add_a_stub_and_init_again(tmp_path: Path) -> None:
    folder = tmp_path / "orders-tests"
    folder.mkdir()

    created = iflowtest("init", cwd=folder)
    first = iflowtest("run", cwd=folder)

    assert created.returncode == 0, created.stderr
    assert "wrote   pyproject.toml" in created.stdout and "wrote   iflows.yaml" in created.stdout
    for name in (
        ".env.example",
        ".gitignore",
        "ci/github-actions.yml",
        "ci/gitlab-ci.yml",
        "ci/azure-pipelines.yml",
        "ci/Jenkinsfile",
        "suites/orders/status.iflow.yaml",
        "suites/orders/test_status.py",
        "schema/iflow-suite.schema.json",
        ".vscode/settings.json",
        "cassettes/.gitkeep",
    ):
        assert (folder / name).is_file(), name
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert "2 tests, 2 passed" in first.stdout

    # The project's own stub iFlow, declared for suites and called by a YAML case.
    with (folder / "iflows.yaml").open("a") as catalog:
        catalog.write(STUB)
    with (folder / "pyproject.toml").open("a") as pyproject:
        pyproject.write('\n[tool.iflowtest.iflows.Shipments]\naddress = "/http/shipments/new"\n')
    (folder / "suites" / "shipments").mkdir()
    (folder / "suites" / "shipments" / "create.iflow.yaml").write_text(CASE)
    second = iflowtest("run", cwd=folder)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    assert "3 tests, 3 passed" in second.stdout

    before = snapshot(folder)
    again = iflowtest("init", cwd=folder)
    assert again.returncode == 0
    assert again.stdout.startswith("iflowtest: nothing to do in ")
    assert "(nothing was changed)" in again.stdout
    assert snapshot(folder) == before


def test_init_merges_into_an_existing_pyproject_without_touching_it(tmp_path: Path) -> None:
    original = (
        '# my project\n[project]\nname = "orders"  # the name\ndependencies = ["requests"]\n\n'
        "[tool.ruff]\nline-length = 100  # ours\n"
    )
    (tmp_path / "pyproject.toml").write_text(original)
    (tmp_path / ".gitignore").write_text("build/\n.env\n")

    result = init_project(tmp_path)

    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(original)
    assert "[tool.iflowtest.clients.sender]" in text and '# target = "auto"' in text
    assert result.merged[0] == "pyproject.toml ([tool.iflowtest] added)"
    assert (
        (tmp_path / ".gitignore").read_text().startswith("build/\n.env\n# iflowtest\nreports/\n.env.*\n!.env.example\n")
    )


def test_init_adds_only_its_iflow_to_an_existing_iflowtest_table(tmp_path: Path) -> None:
    original = '[tool.iflowtest]\ndefault_client = "mine"  # keep\n\n[tool.iflowtest.clients.mine]\nplan = "integration-flow"\n'
    (tmp_path / "pyproject.toml").write_text(original)
    (tmp_path / "iflows.yaml").write_text("iflows: []\n")

    result = init_project(tmp_path)

    text = (tmp_path / "pyproject.toml").read_text()
    assert 'default_client = "mine"  # keep' in text and "clients.sender" not in text
    assert "[tool.iflowtest.iflows.OrderStatus]" in text and 'iflows = "iflows.yaml"' in text
    assert "iflows.yaml" in result.kept
    assert (tmp_path / "iflows.yaml").read_text() == "iflows: []\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t.replace("    methods: [GET]", "   methods: [GET]"),
            "iflowtest: error: iflows.yaml: not valid YAML at line",
        ),
        (
            lambda t: t.replace("behaviour: respond", "behaviour: respnd"),
            "iflowtest: error: iflows.yaml: flow 'OrderStatus', key 'behaviour': expected one of",
        ),
        (
            lambda t: t.replace("name: OrderStatus", "name: ReadCostCenters"),
            "iflowtest: error: iflows.yaml: flow 'ReadCostCenters', key 'name': a sample flow in iflowtest's sample iflows.yaml has this name",
        ),
        (
            lambda t: t.replace("/http/orders/status", "/http/costcenters"),
            "iflowtest: error: iflows.yaml: flow 'OrderStatus', key 'address': /http/costcenters is already the address of flow 'ReadCostCenters' in iflowtest's sample iflows.yaml",
        ),
    ],
)
def test_a_bad_iflows_yaml_is_one_line_and_exit_2(tmp_path: Path, change: object, message: str) -> None:
    init_project(tmp_path)
    catalog = tmp_path / "iflows.yaml"
    catalog.write_text(change(catalog.read_text()))  # type: ignore[operator]

    result = iflowtest("run", cwd=tmp_path)

    assert result.returncode == 2, result.stdout[-2000:] + result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_env_example_of_a_new_project_documents_every_variable(tmp_path: Path) -> None:
    from iflowtest.settings import KNOWN_VARIABLES

    init_project(tmp_path)
    documented = (tmp_path / ".env.example").read_text()
    for variable in KNOWN_VARIABLES:
        assert f"# {variable}=" in documented, variable
    assert "# IFLOWTEST_CLIENT_SENDER_KEY=" in documented and "# IFLOWTEST_CLIENT_MONITOR_KEY=" in documented
    assert "SENDER_NO_DE" not in documented  # the sample's clients are not the new project's


def test_the_emulator_command_serves_the_projects_own_iflows(tmp_path: Path) -> None:
    import json

    import requests

    from tests.servers import standing_emulator

    init_project(tmp_path)
    with standing_emulator(tmp_path) as emulator:
        key = json.loads((tmp_path / "keys" / "sender.json").read_text())["oauth"]
        token = requests.post(
            key["tokenurl"],
            data={"grant_type": "client_credentials"},
            auth=(key["clientid"], key["clientsecret"]),
            verify=emulator.ca_file,
            timeout=10,
        ).json()["access_token"]
        answer = requests.get(
            key["url"] + "/http/orders/status",
            params={"id": "9"},
            headers={"Authorization": f"Bearer {token}"},
            verify=emulator.ca_file,
            timeout=10,
        )
    assert "iflowtest emulator: iflows    iflows.yaml: OrderStatus (besides the sample flows)\n" in emulator.output
    assert answer.json() == {"order": "9", "status": "SHIPPED"}


def test_the_new_pyproject_names_every_setting(tmp_path: Path) -> None:
    import re

    from iflowtest.cassettes.modes import _CASSETTE_KEYS
    from iflowtest.settings import _CF_KEYS, _CLIENT_KEYS, _EMULATOR_KEYS, _IFLOW_KEYS, _TOP_KEYS, resolve_settings

    init_project(tmp_path)
    text = (tmp_path / "pyproject.toml").read_text()
    named = set(re.findall(r"^#? ?([a-z_]+) = ", text, re.MULTILINE)) | set(
        re.findall(r"\[tool\.iflowtest\.([a-z_]+)", text)
    )
    for keys in (_TOP_KEYS, _CLIENT_KEYS, _CF_KEYS, _IFLOW_KEYS, _EMULATOR_KEYS, _CASSETTE_KEYS):
        assert set(keys) <= named, set(keys) - named
    settings = resolve_settings(tmp_path, environ={})  # and it is a valid configuration as written
    assert settings.clients["monitor"].plan == "api" and settings.iflow("OrderStatus").address == "/http/orders/status"


def test_init_refuses_a_pyproject_that_is_not_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = 1\n")
    result = iflowtest("init", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("iflowtest: error: pyproject.toml: not valid TOML (")
    assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "pyproject.toml").read_text() == "[project\nname = 1\n"
