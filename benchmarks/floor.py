"""The floor: the program's lookups and resources, made raw through the same SDK functions and classes.

Reads what `worker.py record` saved (path in AI_ETL_BENCH_FLOOR): calls each provider function the
program called (its cluster lookups), with the same arguments, then declares each resource with
plain values, its parent and its dependencies, and nothing else.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pulumi

from ai_etl.tokens import ESO_PREFIX, sdk_class, sdk_function

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def sdk_resource(
    token: str, name: str, inputs: dict[str, Any], opts: pulumi.ResourceOptions
) -> pulumi.Resource:
    """The resource through its SDK class, from the inputs the program sent (camelCase)."""
    if token.startswith(ESO_PREFIX):
        return sdk_class(token)(
            name, api_version=inputs["apiVersion"], kind=inputs["kind"],
            metadata=inputs["metadata"], spec=inputs["spec"], opts=opts,
        )  # fmt: skip
    kwargs = {_CAMEL.sub("_", k).lower(): v for k, v in inputs.items() if k not in ("apiVersion", "kind")}
    return sdk_class(token)(name, opts=opts, **kwargs)


def declare_all(resources: list[dict[str, Any]]) -> None:
    made: dict[str, pulumi.Resource] = {}
    for r in resources:
        depends_on = [made[d] for d in r["dependencies"] if d in made]
        provider = made.get(r.get("provider", "").rpartition("::")[0])
        opts = pulumi.ResourceOptions(
            parent=made.get(r["parent"]),
            depends_on=depends_on,
            provider=provider if isinstance(provider, pulumi.ProviderResource) else None,
        )
        if r["custom"]:
            made[r["urn"]] = sdk_resource(r["type"], r["name"], r["inputs"], opts)
        else:
            made[r["urn"]] = pulumi.ComponentResource(r["type"], r["name"], None, opts)


def call_all(calls: list[dict[str, Any]]) -> None:
    for call in calls:
        sdk_function(call["token"])(**{_CAMEL.sub("_", k).lower(): v for k, v in call["args"].items()})


if __name__ == "__main__":
    recorded = json.loads(Path(os.environ["AI_ETL_BENCH_FLOOR"]).read_text())
    call_all(recorded["calls"])
    declare_all(recorded["resources"])
