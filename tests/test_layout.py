"""The layout shows the architecture, and CI holds it there.

- every folder with an ``__init__.py`` under ``engine/`` and ``plugins/`` is a package the
  wheel ships (``[tool.setuptools] packages``), and nothing else is listed;
- the import contracts in ``pyproject.toml`` (``[tool.importlinter]``) hold: the engine's
  rooms import only downward (cli -> server | lsp | playground -> runtime -> language ->
  contracts), the engine never imports a plugin, plugins reach the engine only through
  ``from mapwire import``, plugins are independent of each other, and no two modules
  import each other in a circle.

The contracts are checked on the package as installed: a temporary ``mapwire`` folder of
links to ``engine/``'s contents and to ``plugins/``, ``mappings/`` and ``schemas/``, the
same tree the wheel has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def _package_folders() -> set[str]:
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    found = set()
    for package, folder in mapping.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            found.add(".".join((package, *rel)))
    return found


def test_every_package_folder_is_shipped_and_nothing_else() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == _package_folders()


def _installed_tree(tmp_path: Path) -> Path:
    package = tmp_path / "mapwire"
    package.mkdir()
    for entry in (ROOT / "engine").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for folder in ("plugins", "mappings", "schemas"):
        (package / folder).symlink_to(ROOT / folder)
    return tmp_path


def test_the_import_contracts_hold(tmp_path: Path) -> None:
    lint = shutil.which("lint-imports", path=os.path.dirname(sys.executable))
    assert lint, "import-linter is a test dependency: pip install -e '.[test]'"
    tree = _installed_tree(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [lint, "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    kept = [line for line in done.stdout.splitlines() if line.endswith("KEPT")]
    assert len(kept) == len(PYPROJECT["tool"]["importlinter"]["contracts"]), done.stdout


@pytest.mark.parametrize(
    "room", ["contracts", "language", "runtime", "server", "lsp", "playground", "cli"]
)
def test_engine_modules_import_each_other_relatively(room: str) -> None:
    """Absolute ``mapwire.x`` imports inside the engine hide its structure from tools that
    follow imports by path; the engine uses relative imports."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "engine" / room).rglob("*.py"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if line.lstrip().startswith(("from mapwire", "import mapwire"))
    ]
    assert offenders == []


MAX_MODULE_LINES = 400

def test_no_module_is_over_the_line_limit() -> None:
    """Small modules whose names say their job: a module over the limit does several."""
    offenders = []
    for folder in ("engine", "plugins"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            count = len(path.read_text("utf-8").splitlines())
            if count > MAX_MODULE_LINES:
                offenders.append(f"{rel}: {count} lines")
    assert offenders == [], f"modules over {MAX_MODULE_LINES} lines: {offenders}"
