"""Where a stack stands in `pulumi stack ls --json` (read on stdin): prints one line, a word and the
name the backend lists it by, which the steps then pass to `--stack`:

- `deployed <name>`: listed, with resources;
- `undeployed <name>`: listed with none (`resourceCount` 0 or null: `stack init` done, no `up` yet);
- `absent`: not listed at all (not initialised, or the wrong backend: only the caller can tell).

The listed name is the stack's own name in a self-managed backend (pulumi/pulumi
pkg/backend/diy/backend.go, diyBackendReference.String); Pulumi Cloud prints `<org>/<stack>` when
the org is not the default one, and `<org>/<project>/<stack>` when the project differs or names are
fully qualified (pkg/backend/httpstate/stack.go, cloudBackendReference.String), so a name matches
by its last segment. `resourceCount` is a pointer, left out when unknown (pkg/cmd/pulumi/stack/
stack_ls.go, stackSummaryJSON). Two listed stacks that match, or input that is not the CLI's JSON,
exit non-zero, which fails the step: never read as "absent". Standard library only."""

import json
import sys


def main() -> None:
    (stack,) = sys.argv[1:]
    listed = json.load(sys.stdin)
    if not isinstance(listed, list):
        sys.exit(f"`pulumi stack ls --json` printed no list: {type(listed).__name__}")
    matches = [s for s in listed if str(s["name"]).rsplit("/", 1)[-1] == stack]
    if len(matches) > 1:
        sys.exit(f"more than one listed stack is named {stack}: {sorted(str(s['name']) for s in matches)}")
    if not matches:
        print("absent")
        return
    (found,) = matches
    word = "deployed" if found.get("resourceCount") else "undeployed"
    print(f"{word} {found['name']}")


if __name__ == "__main__":
    main()
