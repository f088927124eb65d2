"""Documents derived from the program (`.env.example`, and the generated parts of README.md and docs/),
and their CLI: `python -m ai_etl.ops.docs write` (`make docs`) rewrites those that changed, and says which."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ai_etl.catalogue import CATALOGUE, CONSUMERS, PLAIN_ENV, Consumer, SecretSpec, Source, read_by
from ai_etl.config.providers import NAMESPACES, PROVIDER_KEYS, REFUSED_AT_PRODUCTION, UNCLASSIFIED, Kind
from ai_etl.config.settings import DEFAULTS
from ai_etl.names import PROJECT
from ai_etl.offline.records import Run
from ai_etl.ops import cost


def env_example(
    catalogue: tuple[SecretSpec, ...] = CATALOGUE, consumers: tuple[Consumer, ...] = CONSUMERS
) -> str:
    """`.env.example`: every variable the workloads read, with a placeholder and never a value."""
    lines = [
        "# Variables the AI-ETL workloads read. Generated from ai_etl/catalogue/__init__.py:",
        "#   make docs (python -m ai_etl.ops.docs write)",
        "# Copy to .env (git-ignored) for local development and fill in your own values.",
        '# Generate strong values with: python -c "import secrets; print(secrets.token_urlsafe(32))"',
        "",
    ]
    seen: set[str] = set()
    for consumer in consumers:
        for spec in read_by(consumer, catalogue):
            if spec.key not in seen:
                seen.add(spec.key)
                lines += [f"# {spec.description} ({spec.source.value})", f"{spec.env_var}="]
    plain = sorted({name for consumer in consumers for name in consumer.plain_env})
    lines.append("# Plain configuration, not a secret")
    lines += [f"{name}={DEFAULTS[PLAIN_ENV[name]]}" for name in plain]
    return "\n".join(lines) + "\n"


def secrets_table(
    catalogue: tuple[SecretSpec, ...] = CATALOGUE, consumers: tuple[Consumer, ...] = CONSUMERS
) -> str:
    """The docs' table of secrets, one row per catalogue entry."""
    rows = [
        "| key | env var | read by | source | Secrets Manager name |",
        "|---|---|---|---|---|",
    ]
    for spec in catalogue:
        if spec.source is Source.PROVIDED:
            source = f"provided: secret config `{PROJECT}:{spec.config_key}`"
        elif spec.source is Source.COMPOSED:
            source = f"composed: `{spec.url_template}` (`{PROJECT}:{spec.connection}`, `{spec.password_of}`)"
        else:
            source = f"generated: RandomPassword, rotated by `{PROJECT}:rotation`"
        env = f"`{spec.env_var}`" if spec.env_var else "(none)"
        readers = [c.name for c in consumers if spec in read_by(c, catalogue)]
        read = ", ".join(readers) if readers else "(the service itself: not synced to Kubernetes)"
        rows.append(f"| `{spec.key}` | {env} | {read} | {source} | `{PROJECT}/<stack>/{spec.key}` |")
    return "\n".join(rows) + "\n"


def provider_keys_table() -> str:
    """The docs' table of provider settings (ai_etl/config/providers.py): one row per kind and reason."""
    rows = [
        "| key | kind | production grade | other grades | what it does |",
        "|---|---|---|---|---|",
    ]
    grouped: dict[tuple[Kind, str], list[str]] = {}
    for key, found in PROVIDER_KEYS.items():
        grouped.setdefault((found.kind, found.reason), []).append(f"`{key}`")
    others = ", ".join(f"`{n}:`" for n in NAMESPACES)
    grouped[(UNCLASSIFIED.kind, UNCLASSIFIED.reason)] = [f"any other key under {others}"]
    for (kind, reason), keys in grouped.items():
        refused = kind in REFUSED_AT_PRODUCTION
        production, below = ("refused", "warned at each preview") if refused else ("accepted", "accepted")
        rows.append(f"| {', '.join(keys)} | {kind.value} | {production} | {below} | {reason} |")
    return "\n".join(rows) + "\n"


def impact_table() -> str:
    """What each setting and each rotation does (ai_etl/ops/impact.py; it runs the program offline)."""
    from ai_etl.ops.impact import impact_table as table

    return table()


def takeover_production() -> str:
    """The takeover's commands for the production stack (ai_etl/ops/takeover.py), as a shell block."""
    from ai_etl.ops.takeover import script, target

    return f"```bash\n{script(target('production'))}```\n"


def offline_run(stack: str, config: dict[str, Any], secrets: dict[str, Any]) -> Run:
    """The program run offline in the current folder, as `offline render` runs it; once per process
    for the same inputs and stack files (`make docs` renders production for the README's example
    and for the cost tables alike)."""
    from ai_etl.offline.runner import run_program
    from ai_etl.offline.stackconfig import load_project, program_of

    files = sorted((p.name, p.read_text()) for p in Path().glob("Pulumi*.yaml"))
    key = json.dumps([stack, config, secrets, files], sort_keys=True, default=repr)
    if key not in _RUNS:
        _RUNS[key] = run_program(stack, config, secrets, program=program_of(), project=load_project())
    return _RUNS[key]


_RUNS: dict[str, Run] = {}


def takeover_database_production() -> str:
    """The administrator's grants for the production stack (ai_etl/ops/takeover.py), as an SQL block."""
    from ai_etl.ops.takeover import database_sql_of

    return f"```sql\n{database_sql_of('production')}```\n"


def readme_example() -> str:
    """The output of the README's offline example (production's backend from 3 to 4 replicas:
    render, change, render, diff), computed as `python -m ai_etl.ops.diff` prints it."""
    import copy

    from ai_etl.offline.diff import diff, unchanged_count
    from ai_etl.offline.formats import format_text
    from ai_etl.offline.placeholders import offline_config
    from ai_etl.offline.render import resource_record
    from ai_etl.ops.diff import preface_of

    stack = "production"
    config, secrets, _ = offline_config(stack)
    head_config = copy.deepcopy(config)
    head_config[f"{PROJECT}:backend"]["replicas"] = 4  # the README's `sed` makes this change

    def records(values: dict) -> list[dict]:
        return [resource_record(r) for r in offline_run(stack, values, secrets).resources]

    base, head = records(config), records(head_config)
    changes = diff(base, head)
    unchanged = unchanged_count(head, changes)
    text = format_text(changes, stack, unchanged, preface=preface_of(base, head, stack))
    return f"```\n{text}\n```\n"


def grade_stacks(root: Path = Path()) -> tuple[str, str]:
    """The first committed stack of each grade, standard then production (by `ai-etl:grade`): the
    renders the cost tables count."""
    from ai_etl.grade import GRADE_KEY, PRODUCTION
    from ai_etl.offline.stackconfig import load_stack_config

    stacks = sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))
    production = [s for s in stacks if load_stack_config(s, root).get(GRADE_KEY) == PRODUCTION]
    standard = [s for s in stacks if s not in production]
    if not (standard and production):
        raise ValueError("the cost tables need a committed stack of each grade (standard, production)")
    return standard[0], production[0]


def grade_renders() -> tuple[Run, Run]:
    """The offline render of each grade's stack (`grade_stacks`), for the cost tables."""
    from ai_etl.offline.placeholders import offline_config

    def render(stack: str) -> Run:
        config, secrets, _ = offline_config(stack)
        return offline_run(stack, config, secrets)

    standard, production = grade_stacks()
    return render(standard), render(production)


def cost_table() -> str:
    """docs/security.md's cost table, counted in each grade's render (ai_etl/ops/cost.py)."""
    return cost.table(*grade_renders())


def cost_summary() -> str:
    """The README's cost table, from the same renders."""
    return cost.summary(*grade_renders())


DOCUMENTS = {
    "env-example": env_example,
    "secrets-table": secrets_table,
    "impact-table": impact_table,
    "provider-keys": provider_keys_table,
    "takeover-production": takeover_production,
    "takeover-database-production": takeover_database_production,
    "readme-example": readme_example,
    "cost-table": cost_table,
    "cost-summary": cost_summary,
}
PAGES = {
    "secrets-table": "docs/configuration.md",
    "impact-table": "docs/configuration.md",
    "provider-keys": "docs/security.md",
    "takeover-production": "docs/takeover.md",
    "takeover-database-production": "docs/takeover.md",
    "readme-example": "README.md",
    "cost-table": "docs/security.md",
    "cost-summary": "README.md",
}
"""The documents that a page holds between `<!-- <name>:start -->` and `<!-- <name>:end -->`."""


SLOW = {"impact-table": "the program runs offline once per setting and per rotation: the long step"}
"""What `make docs` says of a document that takes more than a moment to make."""


def generated(root: Path, say: Callable[[str], None] = lambda line: None) -> dict[Path, str]:
    """What each generated file under `root` should hold: `.env.example` whole, and each page with
    its generated parts (between `<!-- <name>:start -->` and `<!-- <name>:end -->`) made anew.
    `say` gets a line naming each document before it is made."""
    say("docs: making .env.example")
    texts = {root / ".env.example": env_example()}
    for name, page_name in PAGES.items():
        say(f"docs: making {name} in {page_name}" + (f" ({SLOW[name]})" if name in SLOW else ""))
        page = root / page_name
        text = texts.get(page, page.read_text())
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, found, rest = text.partition(start)
        _, closed, tail = rest.partition(end)
        if not (found and closed):
            raise ValueError(f"{page} lacks the {start} ... {end} markers")
        texts[page] = f"{head}{start}\n{DOCUMENTS[name]()}{end}{tail}"
    return texts


def write(root: Path, say: Callable[[str], None] = lambda line: None) -> list[Path]:
    """Regenerate `.env.example` and every generated part of the pages under `root`, writing only
    the files whose text changes; returns those files (none: everything was current). `say` as
    `generated`'s."""
    written = []
    for path, text in generated(root, say).items():
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return sorted(written)


def main(argv: list[str] | None = None) -> None:
    """Print a document derived from the catalogue, or `write` them all in place."""
    parser = argparse.ArgumentParser(prog="python -m ai_etl.ops.docs", description=main.__doc__)
    parser.add_argument("document", choices=[*sorted(DOCUMENTS), "write"])
    parser.add_argument("--root", type=Path, default=Path(), help="the project folder (for `write`)")
    args = parser.parse_args(argv)
    if args.document == "write":
        # Progress on stderr; stdout names the files written.
        written = write(args.root, lambda line: print(line, file=sys.stderr))
        for path in written:
            print(f"wrote {path}")
        if not written:
            print(f"nothing to write: {', '.join(sorted({'.env.example', *PAGES.values()}))} are current")
    else:
        print(DOCUMENTS[args.document](), end="")


if __name__ == "__main__":
    main()
