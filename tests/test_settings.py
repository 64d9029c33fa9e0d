"""Settings come from one resolver, in the documented order: command line, environment, pyproject, defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iflowtest import ConfigError
from iflowtest.settings import (
    KNOWN_VARIABLES,
    check_client_keys,
    client_key_variable,
    find_project_root,
    resolve_settings,
)

ROOT = Path(__file__).resolve().parents[1]

KEY = (Path(__file__).resolve().parents[1] / "fixtures" / "servicekeys" / "FAKE-integration-flow-key.json").read_text()


def project(tmp_path: Path, table: str = "", env: str | None = None, **profiles: str) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n' + table, encoding="utf-8")
    if env is not None:
        (tmp_path / ".env").write_text(env, encoding="utf-8")
    for name, content in profiles.items():
        (tmp_path / f".env.{name}").write_text(content, encoding="utf-8")
    return tmp_path


def test_defaults_without_any_configuration(tmp_path: Path) -> None:
    settings = resolve_settings(project(tmp_path), environ={})
    assert settings.target == "emulator"
    assert list(settings.clients) == ["default"]
    assert settings.client().roles == ("ESBMessaging.send",)
    assert settings.client().auth == "oauth"
    assert settings.suites == ("suites",)
    assert settings.reports_dir == tmp_path / "reports"
    assert (settings.connect_timeout, settings.read_timeout) == (10.0, 60.0)
    assert settings.origins["target"] == "default"


def test_order_command_line_then_environment_then_pyproject(tmp_path: Path) -> None:
    root = project(
        tmp_path, "[tool.iflowtest]\nread_timeout = 30\nconnect_timeout = 3\n", env="IFLOWTEST_READ_TIMEOUT=40\n"
    )
    assert resolve_settings(root, environ={}).read_timeout == 40
    assert resolve_settings(root, environ={"IFLOWTEST_READ_TIMEOUT": "50"}).read_timeout == 50
    settings = resolve_settings(root, {"read_timeout": 60}, environ={"IFLOWTEST_READ_TIMEOUT": "50"})
    assert settings.read_timeout == 60
    assert settings.origins["read_timeout"] == "--iflow-read-timeout"
    assert settings.connect_timeout == 3
    assert settings.origins["connect_timeout"] == "[tool.iflowtest] connect_timeout"


def test_profile_file_overrides_dotenv_and_selects_tenant(tmp_path: Path) -> None:
    variable = client_key_variable("default")
    root = project(
        tmp_path,
        env="IFLOWTEST_READ_TIMEOUT=11\n",
        dev=f"IFLOWTEST_READ_TIMEOUT=22\n{variable}='{KEY.replace(chr(10), '')}'\n",
    )
    assert resolve_settings(root, environ={}).target == "emulator"
    settings = resolve_settings(root, {"env": "dev"}, environ={})
    assert settings.profile == "dev"
    assert settings.read_timeout == 22
    assert settings.target == "tenant"
    assert settings.client().service_key_origin == "IFLOWTEST_CLIENT_DEFAULT_KEY"
    assert resolve_settings(root, environ={"IFLOWTEST_ENV": "dev"}).profile == "dev"


def test_missing_profile_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_settings(project(tmp_path), {"env": "qa"}, environ={})
    assert str(info.value) == (
        f"profile 'qa' was requested but {tmp_path / '.env.qa'} does not exist: "
        "copy .env.example to .env.qa and fill in its values"
    )


def test_clients_from_pyproject(tmp_path: Path) -> None:
    table = """
[tool.iflowtest]
default_client = "sender"
[tool.iflowtest.clients.sender]
roles = ["ESBMessaging.send", "ESBMessaging_DE"]
auth = "basic"
[tool.iflowtest.clients.monitor]
plan = "api"
"""
    settings = resolve_settings(project(tmp_path, table), environ={})
    assert settings.client().name == "sender"
    assert settings.client().roles == ("ESBMessaging.send", "ESBMessaging_DE")
    assert settings.client().auth == "basic"
    assert settings.client("monitor").roles == ("MonitoringDataRead",)
    with pytest.raises(ConfigError, match=r"unknown client 'sendr'.*\(did you mean 'sender'\?\)"):
        settings.client("sendr")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[tool.iflowtest]\ntarget = "prod"\n',
            "target 'prod' ([tool.iflowtest] target) is not one of: emulator, tenant, auto",
        ),
        ('[tool.iflowtest]\nsuits = ["x"]\n', "unknown key 'suits' in [tool.iflowtest] (did you mean 'suites'?)"),
        (
            "[tool.iflowtest]\nread_timeout = 'slow'\n",
            "[tool.iflowtest] read_timeout must be a int or float, got str 'slow'",
        ),
        (
            '[tool.iflowtest.clients.a]\nplan = "integration"\n',
            "[tool.iflowtest.clients.a] plan = 'integration' is not one of: integration-flow, api (did you mean 'integration-flow'?)",
        ),
        (
            '[tool.iflowtest.clients.a]\nroles = ["ESB Messaging"]\n',
            "role 'ESB Messaging' may only use letters, digits, '_' and '.'",
        ),
        (
            '[tool.iflowtest.clients.a]\nrole = ["x"]\n',
            "unknown key 'role' in [tool.iflowtest.clients.a] (did you mean 'roles'?)",
        ),
        ('[tool.iflowtest.iflows.Read]\naddress = "http/x"\n', "address must start with '/'"),
        ("[tool.iflowtest\n", "is not valid TOML"),
    ],
)
def test_invalid_pyproject_settings(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_settings(project(tmp_path, table), environ={})
    assert message in str(info.value)


def test_bad_environment_values(tmp_path: Path) -> None:
    root = project(tmp_path)
    with pytest.raises(ConfigError, match="IFLOWTEST_CONNECT_TIMEOUT must be a number of seconds, got 'ten'"):
        resolve_settings(root, environ={"IFLOWTEST_CONNECT_TIMEOUT": "ten"})
    with pytest.raises(ConfigError, match="IFLOWTEST_READ_TIMEOUT must be greater than 0"):
        resolve_settings(root, environ={"IFLOWTEST_READ_TIMEOUT": "0"})
    with pytest.raises(ConfigError, match="IFLOWTEST_TARGET"):
        resolve_settings(root, environ={"IFLOWTEST_TARGET": "cloud"})


def test_find_project_root_walks_up(tmp_path: Path) -> None:
    project(tmp_path)
    nested = tmp_path / "suites" / "costcenters"
    nested.mkdir(parents=True)
    assert find_project_root(nested) == tmp_path


def test_env_example_documents_every_variable() -> None:
    root = Path(__file__).resolve().parents[1]
    documented = (root / ".env.example").read_text(encoding="utf-8")
    source = (root / "src" / "iflowtest" / "settings.py").read_text(encoding="utf-8")
    import re

    used = set(re.findall(r'"(IFLOWTEST_[A-Z_]+)"', source))
    assert used, "no variables found in settings.py"
    for variable in used:
        assert variable in documented, f"{variable} is not documented in .env.example"
    assert "IFLOWTEST_CLIENT_<NAME>_KEY" in documented


# ---------------------------------------------------------------------------- IFLOWTEST_* variables
def test_every_variable_the_harness_reads_is_known_and_in_env_example() -> None:
    source = Path(__file__).resolve().parents[1] / "src" / "iflowtest"
    read = set()
    for path in source.rglob("*.py"):
        if "emulator" in path.parts:
            continue
        # Only full names: IFLOWTEST_CLIENT_<NAME>_KEY is built from the declared clients.
        read |= set(re.findall(r"\b(IFLOWTEST_[A-Z0-9_]*[A-Z0-9])\b", path.read_text(encoding="utf-8")))
    read -= {name for name in read if name.startswith("IFLOWTEST_CLIENT_") and name.endswith("_KEY")}
    documented = set(re.findall(r"^# (IFLOWTEST_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    documented -= {name for name in documented if name.startswith("IFLOWTEST_CLIENT_") and name.endswith("_KEY")}

    assert read <= KNOWN_VARIABLES
    assert documented == KNOWN_VARIABLES


def test_a_misspelt_client_key_variable_names_the_declared_one(tmp_path: Path) -> None:
    root = project(tmp_path, "[tool.iflowtest.clients.sender]\n", dev="IFLOWTEST_CLIENT_SENDR_KEY=x.json\n")

    with pytest.raises(ConfigError) as info:
        resolve_settings(root, {"env": "dev"}, environ={})

    assert str(info.value) == (
        "unknown variable IFLOWTEST_CLIENT_SENDR_KEY in .env.dev (did you mean IFLOWTEST_CLIENT_SENDER_KEY?): no "
        "client 'sendr' is declared (declared clients: sender): fix the name (`.env.example` lists every variable "
        "iflowtest reads) or remove it"
    )


def test_unknown_variables_are_found_in_every_layer(tmp_path: Path) -> None:
    root = project(tmp_path, env="IFLOWTEST_REPORT=out\n")

    with pytest.raises(ConfigError) as info:
        resolve_settings(root, environ={"IFLOWTEST_TARGT": "emulator"})

    assert str(info.value).startswith(
        "unknown variable IFLOWTEST_TARGT in the environment (did you mean IFLOWTEST_TARGET?); unknown variable "
        "IFLOWTEST_REPORT in .env (did you mean IFLOWTEST_REPORTS?): fix the name"
    )


def test_other_variables_are_left_to_yaml_suites(tmp_path: Path) -> None:
    root = project(tmp_path, env="PARTNER_COMPANY_CODE=1010\n")

    assert resolve_settings(root, environ={"HOME": str(tmp_path)}).variables["PARTNER_COMPANY_CODE"] == "1010"


def test_a_profile_means_a_tenant_unless_the_emulator_is_asked_for(tmp_path: Path) -> None:
    root = project(tmp_path, dev="PARTNER_COMPANY_CODE=1010\n")

    settings = resolve_settings(root, {"env": "dev"}, environ={"HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"^profile 'dev' names a tenant, which needs a service key"):
        check_client_keys(settings, settings.clients)
    assert resolve_settings(root, {"env": "dev", "target": "emulator"}, environ={}).target == "emulator"
    assert resolve_settings(root, {"env": "dev", "offline": True}, environ={}).target == "tenant"
    assert resolve_settings(root, environ={"IFLOWTEST_ENV": "dev", "IFLOWTEST_TARGET": "emulator"}).target == (
        "emulator"
    )


def test_a_ca_bundle_that_is_not_a_pem_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate\n")

    with pytest.raises(ConfigError) as info:
        resolve_settings(project(tmp_path), environ={"IFLOWTEST_CA_BUNDLE": "ca.pem"})

    assert str(info.value).startswith(f"CA bundle {tmp_path / 'ca.pem'} (IFLOWTEST_CA_BUNDLE) holds no PEM certificate")


def test_the_emulator_is_strict_unless_told_otherwise(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.iflowtest.emulator]\nlog_delay = 0\n")

    strict = resolve_settings(tmp_path, environ={}).emulator
    lenient = resolve_settings(tmp_path, environ={"IFLOWTEST_EMULATOR_MODE": "lenient"}).emulator

    assert strict.mode == "strict" and not strict.mpl_header and strict.separate_hosts and strict.display_names
    assert strict.next_links == "relative" and strict.processing > 0
    assert strict.log_delay == 0  # a switch given in the table wins over the mode
    assert lenient.mode == "lenient" and lenient.mpl_header and not lenient.separate_hosts
    assert (strict.body_limit_status, strict.odata_errors) == (500, "converted")
    assert (lenient.body_limit_status, lenient.odata_errors) == (413, "odata")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("body_limit_status = 400", "[tool.iflowtest.emulator] body_limit_status = 400: use 413 or 500"),
        ('odata_errors = "xml"', "[tool.iflowtest.emulator] odata_errors = 'xml': use 'odata' or 'converted'"),
    ],
)
def test_an_emulator_switch_out_of_its_forms_names_them(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.iflowtest.emulator]\n{line}\n")

    with pytest.raises(ConfigError) as caught:
        resolve_settings(tmp_path, environ={})

    assert str(caught.value) == message


def test_an_unknown_emulator_mode_says_the_two(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.iflowtest.emulator]\nmode = "relaxed"\n')

    with pytest.raises(ConfigError) as caught:
        resolve_settings(tmp_path, environ={})

    assert str(caught.value) == (
        "[tool.iflowtest.emulator] mode = 'relaxed' is not a mode: use 'strict' (the default) or 'lenient'"
    )


def test_a_tenant_needs_keys_only_for_the_clients_the_run_uses(tmp_path: Path) -> None:
    settings = resolve_settings(project(tmp_path, '[tool.iflowtest]\ntarget = "tenant"\n'), environ={})

    check_client_keys(settings, [])
    with pytest.raises(ConfigError) as info:
        check_client_keys(settings, ["default"])
    assert str(info.value).startswith(
        "target 'tenant' needs a service key for every client the selected tests use, missing for default: set "
        "IFLOWTEST_CLIENT_DEFAULT_KEY"
    )


def test_the_projects_iflows_yaml_is_found_and_must_lie_inside_the_project(tmp_path: Path) -> None:
    assert resolve_settings(tmp_path, environ={}).emulator.iflows is None  # no file, no setting: no own flows
    (tmp_path / "iflows.yaml").write_text("iflows: []\n")
    assert resolve_settings(tmp_path, environ={}).emulator.iflows == (tmp_path / "iflows.yaml").resolve()
    (tmp_path / "pyproject.toml").write_text('[tool.iflowtest.emulator]\niflows = "../elsewhere.yaml"\n')
    with pytest.raises(
        ConfigError, match=r"^\[tool.iflowtest.emulator\] iflows = '../elsewhere.yaml' lies outside the project"
    ):
        resolve_settings(tmp_path, environ={})
    (tmp_path / "pyproject.toml").write_text('[tool.iflowtest.emulator]\niflows = "stubs/flows.yaml"\n')
    with pytest.raises(
        ConfigError, match=r"^\[tool.iflowtest.emulator\] iflows = 'stubs/flows.yaml': no such file in "
    ):
        resolve_settings(tmp_path, environ={})
