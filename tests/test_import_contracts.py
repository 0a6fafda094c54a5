"""The import contracts (pyproject.toml, run by `make lint`) cover every app of the site: an app
left out of them could import anything, and a cycle through it would go unnoticed."""

import tomllib
from pathlib import Path

from django.apps import apps

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _contracts() -> dict[str, dict]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    return {contract["id"]: contract for contract in config["tool"]["importlinter"]["contracts"]}


def _site_apps() -> set[str]:
    return {
        config.name
        for config in apps.get_app_configs()
        if config.name.startswith("carhistory.") or config.name == "ledger"
    }


def test_every_app_has_its_place_in_the_layers():
    layers = _contracts()["app-layers"]["layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    assert _site_apps() - placed == set()


def test_every_app_above_the_ledger_goes_through_its_doors():
    # The demo may reach past the doors (it builds a log to show); every production app may not.
    doors = set(_contracts()["ledger-doors"]["source_modules"])
    assert _site_apps() - {"ledger", "carhistory.demo"} - doors == set()


def test_no_production_app_imports_the_demo():
    production = set(_contracts()["demo-unused-in-production"]["source_modules"])
    assert _site_apps() - {"carhistory.demo"} - production == set()
