"""The takeover of an installation made by hand (the guide's `kubectl create secret generic
ai-etl-secrets`, Deployment `ai-etl-backend`), printed as exact commands for one stack:
`python -m ai_etl.ops.takeover <stack>`. No credential changes, and no value is typed on a command line
or written to a file: each is piped from the live Secret into encrypted stack config.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ai_etl.catalogue import CONSUMERS, Source, by_key, of_source, read_by
from ai_etl.config.reading import ADOPT
from ai_etl.names import HAND_MADE_SECRET, PROJECT, workload
from ai_etl.names import namespace as namespace_of
from ai_etl.offline.stackconfig import load_stack_config

PASSWORD_OF_URL = (
    "python3 -c 'import sys, urllib.parse as u; "
    'print(u.unquote(u.urlsplit(sys.stdin.read().strip()).password or ""), end="")'
    "'"
)
URL_WITHOUT_PASSWORD = (
    "python3 -c 'import sys, urllib.parse as u; x = u.urlsplit(sys.stdin.read().strip()); "
    "print(x.scheme, x.hostname, x.port, x.path, x.username)'"
)


@dataclass(frozen=True)
class Step:
    title: str
    commands: tuple[str, ...]


def steps(stack: str, project_dir: Path = Path()) -> list[Step]:
    """The takeover of `stack`, step by step, as commands to run in order."""
    config = load_stack_config(stack, project_dir)
    namespace = namespace_of(stack, config.get(f"{PROJECT}:namespace"))
    backend = workload(CONSUMERS[0].name)
    # The hand-made Secret names a value by its key (`--from-literal`, Option 1 of the guide) or by
    # its env var (`--from-env-file`, Option 2); `live` tries both and prints nothing when absent.
    # Values pass through shell variables and pipes only: printf is a builtin, so no process has a
    # value among its arguments.
    keep = [
        f"NS={namespace} STACK={stack}",
        'live() { local k v; for k in "$@"; do '
        f'v=$(kubectl get secret {HAND_MADE_SECRET} -n "$NS" -o "jsonpath={{.data.$k}}" | base64 -d); '
        '[ -n "$v" ] && { printf %s "$v"; return 0; }; done; return 1; }',
        f"password() {{ {PASSWORD_OF_URL}; }}",
        # keep NAME ENV FILTER CONFIG-ARGS...: the live value, through FILTER, into encrypted config.
        'keep() { local v; v=$(live "$1" "$2" | $3) && [ -n "$v" ] || { echo "$1: not in '
        + HAND_MADE_SECRET
        + '" >&2; return 1; }; printf %s "$v" | pulumi config set --secret "${@:4}" --stack "$STACK"; }',
    ]
    names = {spec.key: f"{spec.key} {spec.env_var or '-'}" for spec in by_key().values()}
    for spec in of_source(Source.PROVIDED):
        # Not in the Secret (added since the guide): pulumi prompts for it, without echo.
        keep.append(
            f"keep {names[spec.key]} cat {spec.config_key} || "
            f'pulumi config set --secret {spec.config_key} --stack "$STACK"'
        )
    composed = [s for s in of_source(Source.COMPOSED) if s.password_of]
    passwords = {str(s.password_of): s for s in composed}
    for spec in of_source(Source.GENERATED):
        adopt = f"--path '{ADOPT}.{spec.key}'"
        if spec.key in passwords:
            keep.append(f"keep {names[passwords[spec.key].key]} password {adopt}")
        else:  # Not in the Secret: it gets a new random value, unused so far.
            keep.append(f"keep {names[spec.key]} cat {adopt} || echo '{spec.key}: a new value'")
    check = [f"live {names[spec.key]} | {URL_WITHOUT_PASSWORD}" for spec in composed]
    read_by_backend = read_by(CONSUMERS[0])
    compare = (
        'same() { local old now; old=$(live "$1" "$2") || { echo "$1: new"; return 0; }; '
        'now=$(kubectl get secret "$new" -n "$NS" -o "jsonpath={.data.$1}" | base64 -d); '
        '[ "$old" = "$now" ] && echo "$1: kept" || echo "$1: CHANGED"; }'
    )
    return [
        Step(
            "Keep every live value: piped from the hand-made Secret into encrypted stack config", tuple(keep)
        ),
        Step(
            "Check the connection settings match the live URLs (printed without their passwords); "
            "if not, set database.* and redis.* to match (docs/configuration.md)",
            tuple(check),
        ),
        Step(
            "Adopt the existing namespace, and let the new Deployment take over the running pods' place: "
            "the old one's selector is immutable, so it goes, but its pods keep serving until the new ones "
            "are ready",
            (
                # Create adopts an existing object instead of failing AlreadyExists, and takes the
                # fields `kubectl` set (the guide's SecretStore has the same name) instead of failing
                # on a field conflict: provider config upsertExistingObjects and enablePatchForce
                # (pulumi/pulumi-kubernetes provider/pkg/await/await.go, Creation with patchForce).
                'pulumi config set kubernetes:upsertExistingObjects true --stack "$STACK"',
                'pulumi config set kubernetes:enablePatchForce true --stack "$STACK"',
                f'kubectl delete deployment {backend} -n "$NS" --cascade=orphan',
                'pulumi up --stack "$STACK"',
            ),
        ),
        Step(
            "Check the backend got the very values it had (compared by hash, never printed)",
            (
                'new=$(pulumi stack output secretNames --stack "$STACK" --json | '
                "python3 -c 'import json, sys; print(json.load(sys.stdin)[\"backend\"])')",
                compare,
                *(f"same {names[spec.key]}" for spec in read_by_backend),
            ),
        ),
        Step(
            "Retire what was made by hand, once every key reads `kept` and the new pods are ready",
            (
                'pulumi config rm kubernetes:upsertExistingObjects --stack "$STACK"',
                'pulumi config rm kubernetes:enablePatchForce --stack "$STACK"',
                # The old Deployment's ReplicaSets, left without an owner by --cascade=orphan.
                f'kubectl get replicaset -n "$NS" -o json | python3 -c \'import json, sys; '
                f'print(*[r["metadata"]["name"] for r in json.load(sys.stdin)["items"] '
                f'if r["metadata"]["name"].startswith("{backend}-") and not r["metadata"].get("ownerReferences")])\' '
                f'| xargs -r kubectl delete replicaset -n "$NS"',
                # The guide's ExternalSecret, where it was used, owns the Secret: deleting it deletes both.
                f'kubectl delete externalsecrets.external-secrets.io {HAND_MADE_SECRET} -n "$NS" --ignore-not-found',
                f'kubectl delete secret {HAND_MADE_SECRET} -n "$NS" --ignore-not-found',
                'kubectl delete rolebinding secret-reader -n "$NS" --ignore-not-found',
                'kubectl delete role secret-reader -n "$NS" --ignore-not-found',
            ),
        ),
    ]


def script(stack: str, project_dir: Path = Path()) -> str:
    """The steps as one commented shell script."""
    lines = [
        f"# Takeover of the hand-made installation by stack {stack} (python -m ai_etl.ops.takeover {stack})",
        "# Run the steps in order, in one shell: step 1 defines the functions the later steps use.",
    ]
    for number, step in enumerate(steps(stack, project_dir), 1):
        lines += ["", f"# {number}. {step.title}", *step.commands]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Print the takeover's commands for a stack."""
    parser = argparse.ArgumentParser(prog="python -m ai_etl.ops.takeover", description=main.__doc__)
    parser.add_argument("stack", help="a stack of this project: reads its Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    try:
        text = script(args.stack)
    except FileNotFoundError as error:
        parser.error(
            f"{error} (the stacks: {', '.join(sorted(p.name[7:-5] for p in Path().glob('Pulumi.*.yaml')))})"
        )
    print(text, end="")


if __name__ == "__main__":
    main()
