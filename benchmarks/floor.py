"""The floors: the program's lookups and resources, made with nothing of the program around them.

Reads what `worker.py record` saved (path in AI_ETL_BENCH_FLOOR). Two kinds (AI_ETL_BENCH_FLOOR_KIND):

- `raw`: invokes each provider function the program called (its cluster lookups) by token, with the
  same arguments, then registers each resource by type token (`pulumi.CustomResource`,
  `ProviderResource`, `ComponentResource`) with the plain inputs the program sent, its parent, its
  provider and its dependencies. No validation library, no SDK module of a provider, no Outputs.
- `sdk`: the same through the providers' SDK functions and resource classes (what any program
  written with pulumi_aws, pulumi_kubernetes and pulumi_random pays), still with plain inputs.

program - sdk is what this program's own code costs; sdk - raw is what the SDK's typed classes cost.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pulumi

PROVIDER_PREFIX = "pulumi:providers:"
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(inputs: dict[str, Any]) -> dict[str, Any]:
    return {_CAMEL.sub("_", k).lower(): v for k, v in inputs.items()}


def raw_resource(
    token: str, name: str, inputs: dict[str, Any], opts: pulumi.ResourceOptions
) -> pulumi.Resource:
    if token.startswith(PROVIDER_PREFIX):
        return pulumi.ProviderResource(token.removeprefix(PROVIDER_PREFIX), name, inputs, opts)
    return pulumi.CustomResource(token, name, inputs, opts)


def sdk_resource(
    token: str, name: str, inputs: dict[str, Any], opts: pulumi.ResourceOptions
) -> pulumi.Resource:
    """The resource through its SDK class, from the inputs the program sent (camelCase)."""
    from ai_etl.tokens import ESO_PREFIX, sdk_class

    if token.startswith(ESO_PREFIX):
        return sdk_class(token)(
            name, api_version=inputs["apiVersion"], kind=inputs["kind"],
            metadata=inputs["metadata"], spec=inputs["spec"], opts=opts,
        )  # fmt: skip
    kwargs = _snake({k: v for k, v in inputs.items() if k not in ("apiVersion", "kind")})
    return sdk_class(token)(name, opts=opts, **kwargs)


def declare_all(resources: list[dict[str, Any]], sdk: bool) -> None:
    make = sdk_resource if sdk else raw_resource
    made: dict[str, pulumi.Resource] = {}
    for r in resources:
        provider = made.get(r.get("provider", "").rpartition("::")[0])
        opts = pulumi.ResourceOptions(
            parent=made.get(r["parent"]),
            depends_on=[made[d] for d in r["dependencies"] if d in made],
            provider=provider if isinstance(provider, pulumi.ProviderResource) else None,
        )
        if r["custom"]:
            made[r["urn"]] = make(r["type"], r["name"], r["inputs"], opts)
        else:
            made[r["urn"]] = pulumi.ComponentResource(r["type"], r["name"], None, opts)


def call_all(calls: list[dict[str, Any]], sdk: bool) -> None:
    for call in calls:
        if sdk:
            from ai_etl.tokens import sdk_function

            sdk_function(call["token"])(**_snake(call["args"]))
        else:
            pulumi.runtime.invoke(call["token"], call["args"])


if __name__ == "__main__":
    recorded = json.loads(Path(os.environ["AI_ETL_BENCH_FLOOR"]).read_text())
    sdk = os.environ.get("AI_ETL_BENCH_FLOOR_KIND", "raw") == "sdk"
    call_all(recorded["calls"], sdk)
    declare_all(recorded["resources"], sdk)
