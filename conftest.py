"""This repository's own pytest settings: the project's tests use pytester to run suites in-process."""

pytest_plugins = ["pytester"]
