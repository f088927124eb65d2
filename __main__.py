"""ai-etl secrets infrastructure: stack config -> typed settings -> components -> stack outputs."""

import pulumi

from ai_etl.config.cluster import lookup_cluster
from ai_etl.config.settings import load_settings
from ai_etl.environment import Environment, EnvironmentArgs

settings = load_settings()  # every config problem stops here, before anything is declared
cluster = lookup_cluster(settings)  # and a cluster that is missing, or refused for this grade
environment = Environment("ai-etl", EnvironmentArgs(settings, cluster))

pulumi.export("namespace", environment.namespace)
pulumi.export("secretNames", environment.secret_names)
pulumi.export("secretArns", environment.secret_arns)
pulumi.export("operatorRoleArn", environment.operator_role_arn)
pulumi.export("kmsKeyArn", environment.kms_key_arn)
pulumi.export("auditTopicArn", environment.audit_topic_arn)
pulumi.export("rotation", settings.rotation)
pulumi.export("cluster", cluster.name)
