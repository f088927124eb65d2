"""The stacks of this project, for the workflows' matrices: one per Pulumi.<stack>.yaml, printed as
`list=<JSON array>` for $GITHUB_OUTPUT. Standard library only: it runs before any install.

A stack's name becomes a job's name, a GitHub environment (`preview-<stack>`), a namespace and AWS
names, so the workflows take `[a-z0-9][a-z0-9-]*` only: narrower than the CLI's `[A-Za-z0-9_.-]`
(pulumi/pulumi pkg/backend/diy/backend.go, validateStackName), and never a leading `-`, which a
command line would read as a flag. A stack file with any other name fails the job, naming the file:
never dropped silently. The name is printed as a Python literal (newlines escaped), after a fixed
prefix, so a file name cannot start a workflow command of its own."""

import json
import pathlib
import re
import sys

stacks, refused = [], []
for path in sorted(pathlib.Path().glob("Pulumi.*.yaml")):
    m = re.fullmatch(r"Pulumi\.([a-z0-9][a-z0-9-]*)\.yaml", path.name)
    if m:
        stacks.append(m[1])
    else:
        refused.append(path.name)
for name in refused:
    print(
        f"::error title=Stack file not taken::the stack file {name!r} is not Pulumi.<stack>.yaml with a"
        " stack name of lowercase letters, digits and hyphens, not starting with a hyphen: rename it",
        file=sys.stderr,
    )
if refused:
    sys.exit(1)
print("list=" + json.dumps(sorted(stacks), separators=(",", ":")))
