"""A fake `pulumi` CLI: it parses a command line as the real CLI's commands declare their flags
(pulumi/pulumi pkg/cmd/pulumi/operations/{up,preview,refresh,destroy}.go; stack/stack_new.go, whose
command `init` is an alias of, stack_remove.go (`rm`), stack_{select,import,export,output,list}.go;
config/config.go; state/state_unprotect.go; auth/login.go), refuses what they would, and
logs each call with the value piped to it. The stacks, their config and outputs come from the JSON
file $FAKE_PULUMI_STATE, which `stack init` and `stack select --create` add to.

For the workflows: `login` takes the backend $FAKE_PULUMI_BACKEND names (when set, every command
on a stack needs it first); `stack ls --json` lists the stacks with their `resourceCount`
(stack_list.go, stackSummaryJSON), by their key in the state, so `acme/dev` is listed as Pulumi
Cloud lists a stack outside the default org (or prints the state's `ls_output` instead);
`preview` exits with the stack's `preview_exit` (7 is what
`--expect-no-changes` exits with on changes: pkg/cmd/pulumi/cmd/exit_codes.go, ExitNoChanges);
`stack export --file` writes the stack's `export`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# command -> (flags taking a value, boolean flags, least and most positional arguments)
COMMANDS: dict[tuple[str, ...], tuple[set[str], set[str], int, int]] = {
    ("up",): ({"stack", "target"}, {"diff", "yes", "skip-preview", "refresh"}, 0, 0),
    ("preview",): ({"stack", "target"}, {"diff", "refresh", "expect-no-changes"}, 0, 0),
    ("login",): ({"cloud-url", "default-org"}, {"local", "insecure"}, 0, 1),
    ("stack", "ls"): ({"organization", "project", "tag", "output"}, {"json", "all"}, 0, 0),
    ("refresh",): ({"stack"}, {"yes", "diff", "skip-preview"}, 0, 0),
    ("destroy",): ({"stack"}, {"yes", "skip-preview"}, 0, 0),
    ("config", "set"): ({"stack"}, {"path", "secret", "plaintext"}, 1, 2),
    ("config", "get"): ({"stack"}, {"path", "json"}, 1, 1),
    ("config", "rm"): ({"stack"}, {"path"}, 1, 1),
    ("stack", "init"): ({"stack", "secrets-provider", "copy-config-from"}, set(), 0, 1),
    ("stack", "select"): ({"stack", "secrets-provider"}, {"create"}, 0, 1),
    ("stack", "import"): ({"stack", "file"}, {"force"}, 0, 0),
    ("stack", "export"): ({"stack", "file", "version"}, {"show-secrets"}, 0, 0),
    ("stack", "output"): ({"stack"}, {"json", "show-secrets"}, 0, 1),
    ("stack", "rm"): ({"stack"}, {"yes", "force", "preserve-config"}, 0, 1),
    ("state", "unprotect"): ({"stack"}, {"all", "yes"}, 0, 1),
}


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(255)


def parse(argv: list[str]) -> tuple[tuple[str, ...], dict[str, list[str]], list[str]]:
    command = next((c for c in COMMANDS if tuple(argv[: len(c)]) == c), None)
    if command is None:
        fail(f"unknown command: pulumi {' '.join(argv[:2])}")
    assert command is not None
    valued, boolean, least, most = COMMANDS[command]
    flags: dict[str, list[str]] = {}
    positional: list[str] = []
    rest = argv[len(command) :]
    while rest:
        word = rest.pop(0)
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            if name in valued:
                if not eq:
                    if not rest:
                        fail(f"flag needs an argument: --{name}")
                    value = rest.pop(0)
                flags.setdefault(name, []).append(value)
            elif name in boolean:
                flags.setdefault(name, []).append(value or "true")
            else:
                fail(f"unknown flag: --{name}")
        elif word.startswith("-") and word != "-":
            fail(f"unknown shorthand flag: {word}")
        else:
            positional.append(word)
    if not least <= len(positional) <= most:
        fail(f"pulumi {' '.join(command)} takes {least} to {most} arguments, got {positional}")
    return command, flags, positional


def log_call(argv: list[str], stdin: str | None) -> None:
    with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
        log.write(json.dumps({"argv": argv, "stdin": stdin}) + "\n")


def main() -> None:
    argv = sys.argv[1:]
    command, flags, positional = parse(argv)
    state_path = Path(os.environ["FAKE_PULUMI_STATE"])
    state = json.loads(state_path.read_text())
    stacks = state["stacks"]
    backend = os.environ.get("FAKE_PULUMI_BACKEND")
    if command == ("login",):
        if backend is not None and positional != [backend]:
            fail(f"stricter than the CLI: log in to the backend {backend}, not {positional}")
        state["logged_in"] = True
        state_path.write_text(json.dumps(state))
        log_call(argv, None)
        return
    if backend is not None and not state.get("logged_in"):
        fail("not logged in: run `pulumi login <backend>` first")
    if command == ("stack", "ls"):
        log_call(argv, None)
        if "ls_output" in state:  # what a broken backend or CLI might print instead
            print(state["ls_output"])
            return
        listed = [{"name": name, "resourceCount": one.get("resourceCount")} for name, one in stacks.items()]
        print(json.dumps([{k: v for k, v in entry.items() if v is not None} for entry in listed]))
        return
    named = (
        positional[0]
        if command in (("stack", "init"), ("stack", "select"), ("stack", "rm")) and positional
        else None
    )
    stack = named or (flags["stack"][-1] if "stack" in flags else None)
    if stack is None:
        fail("no stack selected: every command in the docs names its stack")
    stdin = None
    if command == ("stack", "init"):
        if stack in stacks:
            fail(f"stack '{stack}' already exists")
        stacks[stack] = {"config": {}, "outputs": {}}
    elif command == ("stack", "select") and stack not in stacks:
        if "create" not in flags:
            fail(f"no stack named '{stack}' found")
        stacks[stack] = {"config": {}, "outputs": {}}
    elif stack not in stacks:
        fail(f"no stack named '{stack}' found")
    if command == ("config", "set") and len(positional) == 1:
        if sys.stdin.isatty():
            fail("the fake takes a value from a pipe only")
        stdin = sys.stdin.read()
        stdin = stdin[:-1] if stdin.endswith("\n") else stdin  # config_set.go drops one newline
    if command == ("stack", "import") and "deployment" not in json.loads(Path(flags["file"][-1]).read_text()):
        fail("not a stack export")
    urns = stacks[stack].get("urns")
    for urn in flags.get("target", []) + (positional if command == ("state", "unprotect") else []):
        if urns is not None and urn not in urns:
            fail(f"no resource {urn} in stack {stack}")
    log_call(argv, stdin)
    state_path.write_text(json.dumps(state))
    if command == ("stack", "export") and "file" in flags:
        Path(flags["file"][-1]).write_text(json.dumps(stacks[stack].get("export", {"version": 3})))
    if command == ("preview",) and stacks[stack].get("preview_exit"):
        reason = stacks[stack].get("preview_error", "no changes were expected but changes were proposed")
        print(f"error: {reason}", file=sys.stderr)
        sys.exit(stacks[stack]["preview_exit"])
    if command == ("config", "get"):
        key = positional[0] if ":" in positional[0] else f"ai-etl:{positional[0]}"
        if key not in stacks[stack]["config"]:
            fail(f"configuration key '{positional[0]}' not found for stack '{stack}'")
        print(stacks[stack]["config"][key])
    elif command == ("stack", "output"):
        outputs = stacks[stack]["outputs"]
        value = outputs[positional[0]] if positional else outputs
        print(json.dumps(value) if "json" in flags or not isinstance(value, str) else value)


if __name__ == "__main__":
    main()
