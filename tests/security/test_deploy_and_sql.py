"""Production settings pass `check --deploy`; no SQL is built by string formatting."""

import ast
import secrets
from pathlib import Path

from django.conf import settings

from tests.support.processes import PRODUCTION_ENV, manage


def test_check_deploy_is_clean_with_production_settings():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={**PRODUCTION_ENV, "SECRET_KEY": secrets.token_urlsafe(50)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = manage("check", env=PRODUCTION_ENV)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_settings_are_not_debug_and_secure():
    code = (
        "from django.conf import settings as s;"
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, s.SECURE_SSL_REDIRECT)"
    )
    result = manage("shell", "-c", code, env={**PRODUCTION_ENV, "SECRET_KEY": "k" * 60, "DEBUG": "true"})
    assert result.stdout.strip().splitlines()[-1].split() == ["False", "True", "True", "True", "True"], (
        result.stderr
    )


# --- raw SQL ------------------------------------------------------------------------------------

SQL_CALLS = {"execute", "executemany", "raw", "extra", "RawSQL"}
# The application's code. bench/ is left out on purpose: its scripts build DDL for throwaway tables
# from constant identifiers (DROP DATABASE {name}), which parameters cannot express.
PROJECT_DIRS = (
    "accounts",
    "billing",
    "generations",
    "assistants",
    "ops",
    "core",
    "config",
    "scripts",
    "templates",
)


def is_formatted_string(node: ast.AST) -> bool:
    """An f-string with placeholders, `"..." % x`, `"...".format(...)` or a concatenation with a non-literal."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return isinstance(node.left, ast.Constant | ast.JoinedStr) and isinstance(
            node.left.value if isinstance(node.left, ast.Constant) else "", str
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return not (isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant))
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def formatted_sql_calls(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    # Names assigned a formatted string anywhere in the module, so `sql = f"..."; cursor.execute(sql)` is caught.
    formatted_names = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and is_formatted_string(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name not in SQL_CALLS or not node.args:
            continue
        first = node.args[0]
        if is_formatted_string(first) or (isinstance(first, ast.Name) and first.id in formatted_names):
            found.append(f"{filename}:{node.lineno}")
    return found


def project_python_files() -> list[Path]:
    base = Path(settings.BASE_DIR)
    return [
        path
        for directory in PROJECT_DIRS
        for path in sorted((base / directory).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def test_the_scanner_catches_each_form():
    samples = {
        'cursor.execute(f"SELECT * FROM t WHERE id = {x}")': 1,
        'cursor.execute("SELECT * FROM t WHERE id = %s" % x)': 1,
        'cursor.execute("SELECT * FROM t WHERE id = {}".format(x))': 1,
        'cursor.execute("SELECT * FROM t WHERE id = " + x)': 1,
        'sql = f"DELETE FROM {table}"\ncursor.execute(sql)': 1,
        'Model.objects.raw(f"SELECT {x}")': 1,
        'qs.extra(where=["a"]).raw("SELECT 1")': 0,
        'RawSQL("SELECT %s" % col, [])': 1,
        'cursor.execute("SELECT * FROM t WHERE id = %s", [x])': 0,
    }
    for source, expected in samples.items():
        assert len(formatted_sql_calls(source, "<sample>")) == expected, source


def test_no_sql_is_built_by_string_formatting():
    files = project_python_files()
    assert len(files) > 40
    offenders = [hit for path in files for hit in formatted_sql_calls(path.read_text(), str(path))]
    assert offenders == []


def test_ruff_keeps_its_sql_injection_rule():
    pyproject = (Path(settings.BASE_DIR) / "pyproject.toml").read_text()
    assert '"S608"' in pyproject
