"""Facts about the providers offline stands in for: the type tokens its mocks and its diff know, and
AWS's partitions (for ARNs and endpoints in region).

Offline keeps its own copy of these facts, so it runs any program and imports nothing of the
project around it; they are facts about the providers, not about any program. Being a second
witness, each is held to its source by tests/test_offline.py: every token to the installed provider
SDK, the partitions to botocore's `botocore/data/partitions.json`.
"""

from __future__ import annotations

import re

STACK = "pulumi:pulumi:Stack"
"""The root resource the engine makes for every stack."""

RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
RANDOM_BYTES = "random:index/randomBytes:RandomBytes"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
SM_SECRET = "aws:secretsmanager/secret:Secret"
SM_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
SM_SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SNS_TOPIC = "aws:sns/topic:Topic"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SNS_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
LOG_METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
S3_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
S3_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
TRAIL = "aws:cloudtrail/trail:Trail"
CACHE_USER = "aws:elasticache/user:User"
CACHE_USER_GROUP = "aws:elasticache/userGroup:UserGroup"
CACHE_USER_GROUP_MEMBER = "aws:elasticache/userGroupAssociation:UserGroupAssociation"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
K8S_PROVIDER = "pulumi:providers:kubernetes"

RESOURCES = (
    RANDOM_PASSWORD,
    RANDOM_BYTES,
    KMS_KEY,
    KMS_ALIAS,
    SM_SECRET,
    SM_VERSION,
    SM_SECRET_POLICY,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    SNS_TOPIC,
    SNS_TOPIC_POLICY,
    SNS_SUBSCRIPTION,
    EVENT_RULE,
    EVENT_TARGET,
    METRIC_ALARM,
    LOG_METRIC_FILTER,
    SQS_QUEUE,
    SQS_QUEUE_POLICY,
    S3_BUCKET,
    S3_BUCKET_POLICY,
    S3_PUBLIC_ACCESS_BLOCK,
    S3_ENCRYPTION,
    S3_VERSIONING,
    TRAIL,
    CACHE_USER,
    CACHE_USER_GROUP,
    CACHE_USER_GROUP_MEMBER,
    K8S_DEPLOYMENT,
    K8S_JOB,
    K8S_ROLE_BINDING,
    K8S_PROVIDER,
)
"""The resource types offline answers or diffs in their own way (any other gets the generic answer)."""

GET_CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
GET_EKS_CLUSTER = "aws:eks/getCluster:getCluster"
GET_OIDC_PROVIDER = "aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider"
GET_CLOUDCONTROL_RESOURCE = "aws:cloudcontrol/getResource:getResource"
GET_REPLICATION_GROUP = "aws:elasticache/getReplicationGroup:getReplicationGroup"
FUNCTIONS = (
    GET_CALLER_IDENTITY,
    GET_EKS_CLUSTER,
    GET_OIDC_PROVIDER,
    GET_CLOUDCONTROL_RESOURCE,
    GET_REPLICATION_GROUP,
)
"""The provider functions (lookups) offline can answer."""

PARTITIONS: tuple[tuple[str, str, str], ...] = (
    # (partition, regionRegex, dnsSuffix), as botocore/data/partitions.json (boto/botocore) lists them.
    ("aws", r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$", "amazonaws.com"),
    ("aws-cn", r"^cn\-\w+\-\d+$", "amazonaws.com.cn"),
    ("aws-eusc", r"^eusc\-(de)\-\w+\-\d+$", "amazonaws.eu"),
    ("aws-iso", r"^us\-iso\-\w+\-\d+$", "c2s.ic.gov"),
    ("aws-iso-b", r"^us\-isob\-\w+\-\d+$", "sc2s.sgov.gov"),
    ("aws-iso-e", r"^eu\-isoe\-\w+\-\d+$", "cloud.adc-e.uk"),
    ("aws-iso-f", r"^us\-isof\-\w+\-\d+$", "csp.hci.ic.gov"),
    ("aws-us-gov", r"^us\-gov\-\w+\-\d+$", "amazonaws.com"),
)


def partition(region: str) -> str:
    """The AWS partition of a region (`aws` for one no partition's pattern matches)."""
    return next((p for p, pattern, _ in PARTITIONS if re.match(pattern, region)), "aws")


def dns_suffix(partition_id: str) -> str:
    """A partition's DNS suffix (`amazonaws.com`, `amazonaws.com.cn`, ...), for service endpoints."""
    return next(suffix for p, _, suffix in PARTITIONS if p == partition_id)
