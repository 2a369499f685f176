"""The import rules of DESIGN.md, checked by reading the source (no imports executed)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import stewardship

PACKAGE = Path(stewardship.__file__).resolve().parent
CONTEXTS = ("registry", "standards", "assurance", "custody", "carbon", "complaints", "interop",
            "web")
FRAMEWORKS = ("sqlalchemy", "fastapi", "starlette", "jinja2", "typer", "pydantic", "alembic",
              "psycopg")
MAX_LINES = 800
# Pure data with no import of its own beyond the stdlib: the words for every code, which
# rules need for their messages as much as pages do.
PURE_CORE = "stewardship.core.labels"


@dataclass(frozen=True)
class Source:
    path: Path
    tree: ast.Module

    @property
    def rel(self) -> str:
        return self.path.relative_to(PACKAGE).as_posix()

    @property
    def module(self) -> str:
        parts = list(self.path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)

    def imports(self) -> list[str]:
        """Every module this file imports, absolute, including ``from x import y`` as x.y."""
        found: list[str] = []
        package = self.module if self.path.name == "__init__.py" else self.module.rpartition(
            ".")[0]
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.append(base)
                found.extend(f"{base}.{alias.name}" for alias in node.names)
        return found


def _sources() -> list[Source]:
    return [Source(path, ast.parse(path.read_text("utf-8"), filename=str(path)))
            for path in sorted(PACKAGE.rglob("*.py"))
            if "migrations" not in path.relative_to(PACKAGE).parts]


SOURCES = _sources()


def _top(name: str) -> str:
    return name.split(".")[0]


def _context_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) > 1 and parts[0] == "stewardship" and parts[1] in CONTEXTS:
        return parts[1]
    return None


def _violations(sources: list[Source], forbidden: callable) -> list[str]:  # type: ignore[valid-type]
    return [f"{s.rel} imports {name}" for s in sources for name in s.imports()
            if forbidden(s, name)]


def test_the_package_was_found() -> None:
    names = {s.rel for s in SOURCES}
    assert {"registry/rules.py", "core/eventlog.py", "web/app.py"} <= names


def test_rules_import_no_framework_and_no_service() -> None:
    rules = [s for s in SOURCES if s.path.name == "rules.py"]
    assert rules

    def forbidden(source: Source, name: str) -> bool:
        if _top(name) in FRAMEWORKS:
            return True
        if name.startswith("stewardship."):
            if name == PURE_CORE or name.startswith(PURE_CORE + "."):
                return False
            last = name.split(".")
            # Only other rules modules (and nothing from them but names) may be imported.
            return not any(part == "rules" for part in last)
        return False

    assert _violations(rules, forbidden) == []


def test_core_imports_no_context() -> None:
    core = [s for s in SOURCES if s.rel.startswith("core/")]
    assert core
    assert _violations(core, lambda s, n: _context_of(n) is not None) == []


def test_no_context_imports_web() -> None:
    contexts = [s for s in SOURCES if _context_of(s.module) not in (None, "web")]
    assert contexts
    assert _violations(contexts, lambda s, n: _context_of(n) == "web") == []


def _is_router_module(source: Source) -> bool:
    return source.path.name in ("api.py", "views.py") or source.path.name.endswith("_api.py")


QUERY_BUILDERS = {"select", "insert", "update", "delete", "text", "func", "exists", "or_",
                  "and_", "Select"}


def test_routers_and_views_do_no_queries() -> None:
    routers = [s for s in SOURCES if _is_router_module(s)]
    assert any(s.rel == "registry/api.py" for s in routers)

    def forbidden(source: Source, name: str) -> bool:
        if name.endswith(".repository") or ".repository." in name:
            return True
        if name.startswith("sqlalchemy."):
            return name.split(".")[-1] in QUERY_BUILDERS or ".orm.query" in name
        return False

    assert _violations(routers, forbidden) == []


def test_routers_and_views_do_not_call_query_methods_on_the_session() -> None:
    problems = []
    for source in (s for s in SOURCES if _is_router_module(s)):
        for node in ast.walk(source.tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"execute", "scalar", "scalars", "query", "get"}
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "db"):
                problems.append(f"{source.rel}:{node.lineno} db.{node.func.attr}()")
    assert problems == []


def test_services_never_commit() -> None:
    services = [s for s in SOURCES if "service" in s.path.relative_to(PACKAGE).parts
                or s.path.name == "service.py"]
    assert any(s.rel.startswith("registry/service/") for s in services)
    commits = [f"{s.rel}:{node.lineno}" for s in services for node in ast.walk(s.tree)
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "commit"]
    assert commits == []


@pytest.mark.parametrize("source", SOURCES, ids=[s.rel for s in SOURCES])
def test_no_module_is_over_800_lines(source: Source) -> None:
    lines = len(source.path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{source.rel} has {lines} lines; split it by use case"


# --- the checker itself catches what it should -------------------------------------------


def _fake(rel: str, code: str) -> Source:
    return Source(PACKAGE / rel, ast.parse(code))


def test_the_import_reader_resolves_relative_and_from_imports() -> None:
    source = _fake("registry/service/accounts.py",
                   "from ..repository import user_by_id\nfrom . import organizations\n"
                   "import sqlalchemy.orm\nfrom stewardship.web import app\n")
    names = source.imports()
    assert "stewardship.registry.repository" in names
    assert "stewardship.registry.service.organizations" in names
    assert "sqlalchemy.orm" in names
    assert _context_of("stewardship.web.app") == "web"
    bad_rules = _fake("registry/rules.py", "from sqlalchemy import select\n")
    assert _violations([bad_rules], lambda s, n: _top(n) in FRAMEWORKS) != []
