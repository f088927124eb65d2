"""The program itself (`ai_etl.program.main`) over a synthetic catalogue of AI_ETL_BENCH_SIZE secrets."""

from __future__ import annotations

import os

from ai_etl.catalogue import CATALOGUE, SecretSpec, Source
from ai_etl.program import main


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
    main(catalogue_of(int(os.environ["AI_ETL_BENCH_SIZE"])))
