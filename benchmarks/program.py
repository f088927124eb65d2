"""The program's own path (settings, catalogue, components, exports) over a synthetic catalogue."""

from __future__ import annotations

import os

import pulumi

from ai_etl.catalogue import CATALOGUE, SecretSpec, Source
from ai_etl.config.cluster import lookup_cluster
from ai_etl.config.settings import load_settings
from ai_etl.environment import Environment, EnvironmentArgs


def catalogue_of(size: int) -> tuple[SecretSpec, ...]:
    """The real catalogue, grown to `size` entries: half generated, half provided, all read by the
    backend (the costliest kind: Secrets Manager, ExternalSecret data, env var)."""
    extra = []
    for i in range(max(0, size - len(CATALOGUE))):
        if i % 2:
            extra.append(
                SecretSpec(f"bench-{i}", f"BENCH_{i}", Source.PROVIDED, "benchmark", config_key=f"bench{i}")
            )
        else:
            extra.append(SecretSpec(f"bench-{i}", f"BENCH_{i}", Source.GENERATED, "benchmark"))
    return CATALOGUE + tuple(extra)


if __name__ == "__main__":
    settings = load_settings(catalogue_of(int(os.environ["AI_ETL_BENCH_SIZE"])))
    environment = Environment("ai-etl", EnvironmentArgs(settings, lookup_cluster(settings)))
    pulumi.export("secretNames", environment.secret_names)
