"""The package is laid out as the data flows (ai_etl/__init__.py): nothing imports upward, no two
modules import each other, and components never reach the config layer, so another program can use
them with plain values."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ai_etl"

BASE = ("ai_etl", "ai_etl.names", "ai_etl.grade", "ai_etl.tokens", "ai_etl.eks", "ai_etl.masking")
"""Facts every layer shares; they import nothing of the package but each other."""
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    # group: the groups its modules may import (besides BASE and their own group)
    "ai_etl.catalogue": (),
    "ai_etl.config": ("ai_etl.catalogue",),
    "ai_etl.components": (),
    "ai_etl.plan": ("ai_etl.catalogue", "ai_etl.config", "ai_etl.components"),
    "ai_etl.environment": ("ai_etl.catalogue", "ai_etl.components", "ai_etl.plan"),
    "ai_etl.program": ("ai_etl.catalogue", "ai_etl.config", "ai_etl.environment", "ai_etl.plan"),
    # The rules print their fixes as the config errors do (one module: the `pulumi config` command
    # lines, standard library only, which the policy pack's environment can load).
    "ai_etl.guardrails": ("ai_etl.catalogue", "ai_etl.config.commands"),
    "ai_etl.offline": (),
    # The operator tools sit on top: the takeover runs the program's checks (program.decide).
    "ai_etl.ops": (
        "ai_etl.catalogue",
        "ai_etl.config",
        "ai_etl.components",
        "ai_etl.guardrails",
        "ai_etl.offline",
        "ai_etl.program",
    ),
}
SELF_CONTAINED = {"ai_etl.offline": ("ai_etl.masking",)}
"""Groups that import nothing of the package but themselves, and the modules named: the offline
engine runs any program, and hides credentials in what it renders by the one masking rule."""


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_of(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def group_of(module: str) -> str:
    if module in BASE:
        return "base"
    return next(g for g in MAY_IMPORT if module == g or module.startswith(g + "."))


def imports_of(module: str) -> set[str]:
    """The package's modules that `module` imports (`from ai_etl import names` is ai_etl.names)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{a.name}" for a in node.names} | {node.module}
    return {m for m in found if m in MODULES and m != module}


def test_every_module_belongs_to_a_layer() -> None:
    """A new module has a place in the data flow before it has imports."""
    assert all(group_of(m) for m in MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_upward(module: str) -> None:
    """Each layer imports only the layers below it: the deploy-time library never needs the
    operator tools, and the offline engine runs any program, so it knows none of ours."""
    group = group_of(module)
    if group == "base":
        allowed: tuple[str, ...] = ("base",)
    elif group in SELF_CONTAINED:
        allowed = (group, *SELF_CONTAINED[group])
    else:
        allowed = ("base", group, *MAY_IMPORT[group])
    upward = sorted(m for m in imports_of(module) if group_of(m) not in allowed and m not in allowed)
    assert not upward, f"{module} ({group}) imports {upward}"


def test_no_two_modules_import_each_other() -> None:
    """An import cycle makes the order of loading matter; the layers leave no room for one."""
    graph = {m: imports_of(m) for m in MODULES}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo += graph[node]
        return False

    cycles = sorted((a, b) for a in graph for b in graph[a] if reaches(b, a))
    assert not cycles


def test_components_load_without_the_config_layer() -> None:
    """Components take plain typed values: loading every one of them loads neither the stack
    config's models nor pydantic."""
    components = [m for m in MODULES if m.startswith("ai_etl.components.")]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in components)
        + "print(sorted(m for m in sys.modules if m.startswith(('ai_etl.config', 'pydantic'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_one_top_level_name_is_installed() -> None:
    """The project installs `ai_etl` and nothing else into a user's site-packages."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["include"] == ["ai_etl*"]


def aws_attributes(path: Path) -> set[str]:
    """The names a file takes from the pulumi_aws package (`aws.kms`, `from pulumi_aws import iam`)."""
    tree = ast.parse(path.read_text())
    imports = [a for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    aliases = {a.asname or a.name for a in imports if a.name == "pulumi_aws"}
    used = {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pulumi_aws"):
            tail = (node.module or "").split(".")[1:]
            used |= {tail[0]} if tail else {a.name for a in node.names}
    return used


def test_mypy_checks_every_aws_service_the_code_uses() -> None:
    """mypy follows only the pulumi_aws services pyproject.toml names (the rest of that package
    would triple its time); a service used but not named would be Any, its arguments unchecked."""
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    followed = {m for o in mypy if o.get("follow_imports") == "normal" for m in o["module"]}
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
    used = set().union(
        *(aws_attributes(p) for p in [*files, ROOT / "__main__.py", ROOT / "policy" / "policies.py"])
    )
    assert {"kms", "secretsmanager"} <= used, "the check sees what the program uses"
    unchecked = sorted(name for name in used if f"pulumi_aws.{name}" not in followed)
    assert not unchecked, f"add pulumi_aws.{unchecked[0]} and pulumi_aws.{unchecked[0]}.* to pyproject.toml"
