"""The shape docs/architecture.md promises: imports between the top-level packages go one way
(collab -> realtime -> notes), and no module outgrows what one reading takes in."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("collab", "realtime", "notes")
# What each package may import of the others.
ALLOWED = {"collab": {"realtime", "notes"}, "realtime": {"notes"}, "notes": set()}
MAX_MODULE_LINES = 400


def _modules(package: str) -> list[Path]:
    return [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names)
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_between_top_level_packages_go_one_way(package):
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported - ALLOWED[package] - {package})
        for path in _modules(package)
        if (imported := _imported_packages(path)) - ALLOWED[package] - {package}
    }
    assert not wrong, f"{package} may import only {sorted(ALLOWED[package])}: {wrong}"


def test_the_checker_sees_imports_of_every_form(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import notes.models\nfrom realtime.hub import get_hub\nfrom . import x\n")
    assert _imported_packages(module) == {"notes", "realtime"}


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_over_the_size_a_reader_takes_in(package):
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules(package)
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"
