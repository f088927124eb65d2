"""The program: stack config -> typed settings -> plan -> components -> stack outputs.

`__main__.py` runs `main()`; the benchmark runs the same function over a larger catalogue, so it
measures this program and no copy of it.
"""

from __future__ import annotations

import pulumi

from ai_etl import names
from ai_etl.catalogue import CATALOGUE, CONSUMERS, Consumer, SecretSpec
from ai_etl.config.cachegroup import lookup_cache_group
from ai_etl.config.cluster import Cluster, lookup_cluster
from ai_etl.config.settings import Settings, load_settings
from ai_etl.config.trail import lookup_trail
from ai_etl.environment import Environment, EnvironmentArgs
from ai_etl.plan import Plan, plan


def decide(
    catalogue: tuple[SecretSpec, ...] = CATALOGUE, consumers: tuple[Consumer, ...] = CONSUMERS
) -> tuple[Settings, Cluster, Plan]:
    """Everything the program decides before it declares anything, and every refusal: `main`'s
    first part, which the takeover runs alone to learn whether the program accepts a stack."""
    settings = load_settings(catalogue, consumers)  # every config problem stops here, before anything
    cluster = lookup_cluster(settings)  # and a cluster that is missing, or refused for this grade
    lookup_trail(settings)  # and a trail that would miss reads (unless the program declares it)
    attached = lookup_cache_group(settings)  # and a missing cache; False: its users are not on it yet
    return settings, cluster, plan(settings, cluster, attached)


def main(catalogue: tuple[SecretSpec, ...] = CATALOGUE, consumers: tuple[Consumer, ...] = CONSUMERS) -> None:
    settings, cluster, planned = decide(catalogue, consumers)
    environment = Environment(names.ROOT, EnvironmentArgs(planned, settings.provided, settings.adopted))
    pulumi.export("namespace", environment.namespace)
    pulumi.export("secretNames", environment.secret_names)
    pulumi.export("secretArns", environment.secret_arns)
    pulumi.export("operatorRoleArn", environment.operator_role_arn)
    pulumi.export("kmsKeyArn", environment.kms_key_arn)
    pulumi.export("auditTopicArn", environment.audit_topic_arn)
    pulumi.export("auditTamperTopicArn", environment.audit_tamper_topic_arn)
    pulumi.export("rotation", dict(settings.rotation))
    pulumi.export("generations", dict(settings.generations))
    pulumi.export("cluster", cluster.name)
