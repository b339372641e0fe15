"""The layers of docs/architecture.md are a contract: import-linter checks it on every `make test`.

    config > ops > generations | assistants > billing > accounts > core

and no app imports another app's admin or api modules. The contracts are in pyproject.toml
([tool.importlinter]); `.venv/bin/lint-imports --no-cache` runs the same check alone.
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_imports_keep_the_layers_and_the_admin_and_api_modules_private():
    # No cache: the graph takes well under a second to build, and a clean clone then behaves the same.
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},  # the report is not wrapped at a pipe's 80 columns
        capture_output=True,
        text=True,
        timeout=120,
    )

    if result.returncode != 0:
        pytest.fail(
            f"import contracts broken (pyproject.toml):\n{result.stdout}{result.stderr}", pytrace=False
        )


def test_every_project_package_is_under_the_contract():
    # A new app left out of root_packages would be checked by nothing.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    apps = {app for app in settings.INSTALLED_APPS if (ROOT / app / "apps.py").exists()}

    assert set(config["root_packages"]) == apps | {"config", "core"}
