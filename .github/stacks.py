"""The stacks of this project, for the workflows' matrices: one per Pulumi.<stack>.yaml, printed as
`list=<JSON array>` for $GITHUB_OUTPUT. Standard library only: it runs before any install."""

import json
import pathlib
import re

stacks = sorted(
    m[1]
    for p in pathlib.Path().glob("Pulumi.*.yaml")
    if (m := re.fullmatch(r"Pulumi\.([a-z0-9-]+)\.yaml", p.name))
)
print("list=" + json.dumps(stacks, separators=(",", ":")))
