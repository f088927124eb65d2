"""Resource type tokens, in one place: components, guardrails, operator tools, benchmarks and tests
all name resource types from here, so a typo cannot hide in one of them. (The offline engine keeps
its own list of the provider types it answers for, ai_etl/offline/providers.py: it imports nothing
of this project.)"""

from __future__ import annotations

import importlib
import re
from typing import Any

STACK = "pulumi:pulumi:Stack"

# Providers' resource types (package:module/resource:Type).
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
RANDOM_BYTES = "random:index/randomBytes:RandomBytes"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
SM_SECRET = "aws:secretsmanager/secret:Secret"
SM_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
SNS_TOPIC = "aws:sns/topic:Topic"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SNS_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
SM_SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
TRAIL = "aws:cloudtrail/trail:Trail"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
CACHE_USER = "aws:elasticache/user:User"
CACHE_USER_GROUP = "aws:elasticache/userGroup:UserGroup"
K8S_NAMESPACE = "kubernetes:core/v1:Namespace"
K8S_SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
K8S_SECRET = "kubernetes:core/v1:Secret"
K8S_CONFIGMAP = "kubernetes:core/v1:ConfigMap"
K8S_POD = "kubernetes:core/v1:Pod"
K8S_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
K8S_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
K8S_CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
K8S_DAEMON_SET = "kubernetes:apps/v1:DaemonSet"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_CRON_JOB = "kubernetes:batch/v1:CronJob"
K8S_NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_ADMISSION_POLICY = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
K8S_ADMISSION_BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
ESO_PREFIX = "kubernetes:external-secrets.io/"
ESO_SECRET_STORE = "kubernetes:external-secrets.io/v1:SecretStore"
ESO_EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"

# Provider functions (invokes) the program calls at deploy time.
GET_CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
GET_EKS_CLUSTER = "aws:eks/getCluster:getCluster"
GET_OIDC_PROVIDER = "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider"
GET_CLOUDCONTROL_RESOURCE = "aws:cloudcontrol/getResource:getResource"
GET_REPLICATION_GROUP = "aws:elasticache/getReplicationGroup:getReplicationGroup"
K8S_PROVIDER = "pulumi:providers:kubernetes"

ALL_MANAGEMENT_EVENTS = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
"""The only EventBridge rule state in which read-only management events (GetSecretValue) reach a
rule: the access audit sets it, and the guardrails look for it."""

# What the program records of the stack's cluster on its namespace (ai_etl/components/namespace.py), for
# the policy pack and `make check` (ai_etl/guardrails/rules.py, cluster-encrypted-and-audited).
CLUSTER_ANNOTATION = "ai-etl.io/eks-cluster"
VERSION_ANNOTATION = "ai-etl.io/eks-version"
AUDIT_ANNOTATION = "ai-etl.io/eks-audit-log"

# This project's components: `ai-etl:<module>:<Type>` is class <Type> in components/<module>.py.
ENVIRONMENT_COMPONENT = "ai-etl:environment:Environment"
NAMESPACE_COMPONENT = "ai-etl:namespace:Namespace"
PASSWORDS_COMPONENT = "ai-etl:passwords:Passwords"
SERVER_PASSWORDS_COMPONENT = "ai-etl:serverpasswords:ServerPasswords"
ROTATION_STEP_COMPONENT = "ai-etl:rotationstep:RotationStep"
SECRETS_MANAGER_COMPONENT = "ai-etl:secretsmanager:SecretsManager"
SECRET_STORE_COMPONENT = "ai-etl:secretstore:SecretStore"
WORKLOAD_COMPONENT = "ai-etl:workload:Workload"
AUDIT_COMPONENT = "ai-etl:accessaudit:AccessAudit"
ADMISSION_COMPONENT = "ai-etl:admission:Admission"
CLUSTER_AUDIT_COMPONENT = "ai-etl:clusteraudit:ClusterAudit"
AUDIT_BUS_COMPONENT = "ai-etl:auditbus:AuditBus"
TRAIL_COMPONENT = "ai-etl:audittrail:AuditTrail"
CACHE_USERS_COMPONENT = "ai-etl:cacheusers:CacheUsers"

_SDK_PACKAGES = {"random": "pulumi_random", "aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes"}


def sdk_function(token: str) -> Any:
    """The Python SDK function of a provider function: `aws:eks/getCluster:getCluster` ->
    pulumi_aws.eks.get_cluster."""
    package, module, name = token.split(":")
    path = module.split("/")[0].replace("index", "")
    target = ".".join(filter(None, (_SDK_PACKAGES[package], path)))
    return getattr(importlib.import_module(target), re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())


def sdk_class(token: str) -> type:
    """The Python SDK class of a provider resource type: `aws:kms/key:Key` -> pulumi_aws.kms.Key.

    Custom resources of CRDs (External Secrets) have no class of their own; they are
    `pulumi_kubernetes.apiextensions.CustomResource`.
    """
    package, module, name = token.split(":")
    if package == "pulumi" and module == "providers":  # pulumi:providers:kubernetes -> ...Provider
        return importlib.import_module(_SDK_PACKAGES[name]).Provider  # type: ignore[no-any-return]
    if token.startswith(ESO_PREFIX):
        return importlib.import_module("pulumi_kubernetes.apiextensions").CustomResource  # type: ignore[no-any-return]
    if package == "kubernetes":
        # kubernetes:rbac.authorization.k8s.io/v1:Role -> pulumi_kubernetes.rbac.v1
        group, version = module.split("/")
        path = f"{group.split('.')[0]}.{version}"
    else:
        # aws:kms/key:Key -> pulumi_aws.kms; random:index/randomPassword:RandomPassword -> pulumi_random
        path = module.split("/")[0].replace("index", "")
    target = ".".join(filter(None, (_SDK_PACKAGES[package], path)))
    return getattr(importlib.import_module(target), name)  # type: ignore[no-any-return]
