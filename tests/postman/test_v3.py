"""Postman v3 collection folders: a v2.1 export and its v3 twin import to the same suite and the same verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from iflowtest.cli import main
from iflowtest.postman.importer import import_collection

ROOT = Path(__file__).resolve().parents[2]
V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
STATUS_200 = ["pm.test('200', () => {", "    pm.response.to.have.status(200);", "});"]
STATUS_404 = ["pm.response.to.have.status(404);"]  # the emulator answers 200: fails in Newman and here
SAVE = ["var jsonData = pm.response.json();", 'pm.collectionVariables.set("cc", jsonData.d.results[0].CostCenter);']
ENV = {
    "baseUrl": "https://127.0.0.1:8443",
    "tokenUrl": "https://127.0.0.1:8443/oauth/token",
    "clientid": "",
    "clientsecret": "",
}


def v21() -> dict[str, Any]:
    def request(name: str, url: str, tests: list[str], **extra: Any) -> dict[str, Any]:
        return {
            "name": name,
            "event": [{"listen": "test", "script": {"exec": tests}}],
            "request": {"url": url, **extra},
        }

    return {
        "info": {"name": "Twins", "schema": V21},
        "auth": {
            "type": "basic",
            "basic": [{"key": "username", "value": "{{clientid}}"}, {"key": "password", "value": "{{clientsecret}}"}],
        },
        "variable": [{"key": "top", "value": "1"}, {"key": "region", "value": "EU"}],  # v3: region on a folder
        "event": [{"listen": "test", "script": {"exec": ["pm.expect(pm.response.responseTime).to.be.below(30000);"]}}],
        "item": [
            {
                "name": "Zeta first",  # first in the collection, last by name
                "item": [
                    request(
                        "list",
                        "{{baseUrl}}/http/costcenters?companyCode=1010&$top={{top}}",
                        [*STATUS_200, *SAVE],
                        method="GET",
                        header=[{"key": "Accept", "value": "application/json"}],
                    ),
                ],
            },
            {
                "name": "Alpha later",
                "auth": {
                    "type": "oauth2",
                    "oauth2": [
                        {"key": "accessTokenUrl", "value": "{{tokenUrl}}"},
                        {"key": "clientId", "value": "{{clientid}}"},
                        {"key": "clientSecret", "value": "{{clientsecret}}"},
                    ],
                },
                "item": [
                    request(
                        "read back",
                        "{{baseUrl}}/http/costcenters?controllingArea=A000&costCenter={{cc}}",
                        STATUS_200,
                        method="GET",
                    ),
                    request("expects 404", "{{baseUrl}}/http/costcenters?companyCode=1010", STATUS_404, method="GET"),
                    request(
                        "no auth",
                        "{{baseUrl}}/http/costcenters?companyCode=1010",
                        ["pm.response.to.have.status(401);"],
                        method="GET",
                        auth={"type": "noauth"},
                    ),
                ],
            },
        ],
    }


def v3_twin(root: Path, *, maps: bool) -> Path:
    """The same collection as a v3 folder; `maps` picks the map forms of key lists (else the list forms)."""

    def pairs(values: dict[str, str]) -> Any:
        return dict(values) if maps else [{"key": k, "value": v} for k, v in values.items()]

    def script(kind: str, lines: list[str]) -> dict[str, Any]:
        return {"type": (f"http:{kind}" if maps else kind), "code": "\n".join(lines), "language": "text/javascript"}

    def dump(path: Path, data: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    folder = root / "postman" / "collections" / "Twins"
    dump(
        folder / ".resources" / "definition.yaml",
        {
            "$kind": "collection",
            "name": "Twins",
            "auth": {
                "type": "basic",
                "credentials": pairs({"username": "{{clientid}}", "password": "{{clientsecret}}"}),
            },
            "variables": pairs({"top": "1"}),
            "scripts": [script("afterResponse", ["pm.expect(pm.response.responseTime).to.be.below(30000);"])],
        },
    )
    dump(folder / "Zeta first" / ".resources" / "definition.yaml", {"$kind": "collection", "order": 1000})
    list_request: dict[str, Any] = {
        "$kind": "http-request",
        "method": "GET",
        "url": "{{baseUrl}}/http/costcenters?companyCode=1010&$top={{top}}",
        "queryParams": pairs({"companyCode": "1010", "$top": "{{top}}"}),
        "headers": pairs({"Accept": "application/json"}),
        "order": 1000,
    }
    if maps:
        list_request["scripts"] = [script("afterResponse", [*STATUS_200, *SAVE])]
    else:  # the script as a file beside the request
        scripts = folder / "Zeta first" / ".resources" / "list.resources" / "scripts"
        scripts.mkdir(parents=True)
        (scripts / "afterResponse.js").write_text("\n".join([*STATUS_200, *SAVE]))
    dump(folder / "Zeta first" / "list.request.yaml", list_request)
    alpha = folder / "Alpha later"
    dump(
        alpha / ".resources" / "definition.yaml",
        {
            "$kind": "collection",
            "order": 2000,
            "variables": pairs({"region": "EU"}),
            "auth": {
                "type": "oauth2",
                "credentials": pairs(
                    {"accessTokenUrl": "{{tokenUrl}}", "clientId": "{{clientid}}", "clientSecret": "{{clientsecret}}"}
                ),
            },
        },
    )
    dump(
        alpha / "read back.request.yaml",
        {
            "$kind": "http-request",
            "method": "GET",
            "url": "{{baseUrl}}/http/costcenters?controllingArea=A000&costCenter={{cc}}",
            "scripts": [script("afterResponse", STATUS_200)],
            "order": 1000,
        },
    )
    dump(
        alpha / "expects 404.request.yaml",
        {
            "$kind": "http-request",
            "method": "GET",
            "url": "{{baseUrl}}/http/costcenters?companyCode=1010",
            "scripts": [script("afterResponse", STATUS_404)],
            "order": 2000,
        },
    )
    dump(
        alpha / "no auth.request.yaml",
        {
            "$kind": "http-request",
            "method": "GET",
            "url": "{{baseUrl}}/http/costcenters?companyCode=1010",
            "auth": {"type": "noauth"},
            "scripts": [script("afterResponse", ["pm.response.to.have.status(401);"])],
            "order": 3000,
        },
    )
    env = root / "postman" / "environments" / "Emulator.environment.yaml"
    dump(
        env,
        {
            "name": "Emulator",
            "values": [{"key": k, "value": v, "enabled": True, "type": "default"} for k, v in ENV.items()],
        },
    )
    return folder


def suite_of(project: Path) -> dict[str, Any]:
    out = project / "suites" / "twins"
    return {p.relative_to(out).as_posix(): yaml.safe_load(p.read_text()) for p in sorted(out.rglob("*.iflow.yaml"))}


def env_json(path: Path) -> Path:
    path.write_text(
        json.dumps({"name": "Emulator", "values": [{"key": k, "value": v, "enabled": True} for k, v in ENV.items()]})
    )
    return path


@pytest.mark.parametrize("maps", [True, False], ids=["map forms", "list forms and a script file"])
def test_a_v3_folder_imports_to_the_same_suite_as_its_v21_twin(tmp_path: Path, maps: bool) -> None:
    (tmp_path / "v2").mkdir()
    (tmp_path / "v3").mkdir()
    for project in (tmp_path / "v2", tmp_path / "v3"):
        (project / "pyproject.toml").write_text("")
    collection = tmp_path / "v2" / "twins.postman_collection.json"
    collection.write_text(json.dumps(v21()))
    folder = v3_twin(tmp_path / "v3", maps=maps)

    import_collection(collection, tmp_path / "v2" / "suites" / "twins", environment=env_json(tmp_path / "e.json"))
    code = main(
        [
            "import-postman",
            str(folder),
            "--environment",
            str(tmp_path / "v3" / "postman" / "environments" / "Emulator.environment.yaml"),
            "--out",
            str(tmp_path / "v3" / "suites" / "twins"),
        ]
    )

    assert code == 0
    assert suite_of(tmp_path / "v3") == suite_of(tmp_path / "v2")
    assert list(suite_of(tmp_path / "v2")) == ["alpha-later/alpha-later.iflow.yaml", "zeta-first/zeta-first.iflow.yaml"]
    for name in ("clients.toml", ".env.example"):
        assert (tmp_path / "v3" / "suites" / "twins" / name).read_text() == (
            tmp_path / "v2" / "suites" / "twins" / name
        ).read_text()


def test_a_v3_folder_and_its_v21_twin_get_the_same_verdicts(pytester: pytest.Pytester) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    outcomes = {}
    for form in ("v2.1", "v3"):
        project = pytester.path / form
        project.mkdir()
        (project / "pyproject.toml").write_text(pyproject)
        out = project / "suites" / "twins"
        if form == "v2.1":
            source = project / "twins.postman_collection.json"
            source.write_text(json.dumps(v21()))
        else:
            source = v3_twin(project, maps=True)
        import_collection(source, out, environment=env_json(project / "e.json"))
        (project / "pyproject.toml").write_text(pyproject + "\n" + (out / "clients.toml").read_text())
        result = pytester.runpytest_inprocess(
            str(project / "suites"),
            "--rootdir",
            str(project),
            "-c",
            str(project / "pyproject.toml"),
            "-p",
            "no:hypothesispytest",
            "-p",
            "no:randomly",
            "-rA",
        )
        outcomes[form] = (
            sorted(
                line.split(" - ")[0].split("::")[-1]
                for line in result.outlines
                if line.startswith(("PASSED", "FAILED"))
            ),
            result.parseoutcomes(),
        )

    assert outcomes["v3"] == outcomes["v2.1"]
    assert outcomes["v2.1"][1] == {"passed": 3, "failed": 1}
