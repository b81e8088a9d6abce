"""The layer rules of DESIGN.md, enforced: import-linter contracts plus checks it cannot express."""
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOG = ROOT / "blog"


def test_import_linter_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: (\d+) kept, 0 broken", result.stdout)


def _python_files(folder: Path):
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_view_touches_the_database_session():
    offenders = []
    for path in _python_files(BLOG / "views"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "session" and getattr(node.value, "id", "") == "db":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Name) and node.id == "db":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_no_module_reads_the_environment_except_config():
    offenders = []
    for path in _python_files(BLOG):
        if path.name == "config.py":
            continue
        source = path.read_text()
        if re.search(r"\bos\.environ\b|\bos\.getenv\b", source):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_package_init_has_no_side_effects():
    tree = ast.parse((BLOG / "__init__.py").read_text())
    assert all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in tree.body)


def test_only_sanitized_columns_are_marked_safe_in_templates():
    unsafe = []
    for path in (BLOG / "templates").rglob("*.html"):
        for match in re.finditer(r"\{\{\s*([^}]*?)\|\s*safe\s*\}\}", path.read_text()):
            if not re.fullmatch(r"[\w.]+_html", match.group(1).strip()):
                unsafe.append(f"{path.name}: {match.group(0)}")
    assert unsafe == []


def test_no_cdn_or_remote_assets_in_templates():
    for path in (BLOG / "templates").rglob("*.html"):
        assert not re.search(r"(src|href)=\"(https?:)?//", path.read_text()), path


def test_built_css_is_fresh():
    result = subprocess.run([sys.executable, str(ROOT / "assets" / "build.py"), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
