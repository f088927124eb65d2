"""What each mocked provider answers: the outputs a resource gets on create, and what a lookup
(provider function) returns for a healthy account, which `--answers FILE` can change.

Answers are the camelCase outputs real providers return, and stable: a resource declared without a
name gets one as the providers auto-name it (its logical name and a suffix, here a digest), and
every id, ARN and password is a digest of what makes it, so two renders differ only where the
program does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi

from ai_etl.offline import providers, yamlv3
from ai_etl.offline.records import unwrap

MOCK_ACCOUNT = "123456789012"
TRAIL_TYPE = "AWS::CloudTrail::Trail"
"""Cloud Control's type of a trail (an AWS fact, kept here too as offline imports nothing of the
program; ai_etl/config/trail.py looks trails up by it)."""
REPLICATION_GROUP_TYPE = "AWS::ElastiCache::ReplicationGroup"
"""Cloud Control's type of an ElastiCache replication group (ai_etl/config/cachegroup.py)."""


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def load_answers(path: Path | None) -> dict[str, Any]:
    """What provider functions answer, from a YAML file: function token -> the fields that replace
    the made-up answer's, or null for "not found" (e.g. an older cluster for
    `aws:eks/getCluster:getCluster`); for Cloud Control's `properties` (JSON text), a mapping
    changes the properties it names (`properties: {IsMultiRegionTrail: false}`). Read with the same
    bounds as a stack file (yamlv3: an alias bomb or a malformed file is refused in one line, never
    expanded or a traceback)."""
    if path is None:
        return {}
    try:
        data = _plain(yamlv3.load(path.read_bytes()).value or {})
    except yamlv3.YamlError as error:
        line = f" line {error.line}" if error.line else ""
        raise ValueError(f"{path}{line}: {error.message}") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict | None) for v in data.values()):
        raise ValueError(f"{path}: expected a mapping of function tokens to fields (or null)")
    return dict(data)


def _plain(value: Any) -> Any:
    """`value` as JSON holds it: a timestamp as its RFC 3339 text; a key that is not text refused."""
    if isinstance(value, yamlv3.GoMap):
        raise ValueError("keys must be text")
    if isinstance(value, yamlv3.GoTime):
        return value.rfc3339nano()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return [_plain(v) for v in value] if isinstance(value, list) else value


class ProviderMocks(pulumi.runtime.Mocks):
    """What each provider answers on create, and on a lookup."""

    def __init__(
        self,
        stack: str,
        region: str,
        account: str = MOCK_ACCOUNT,
        answers: Mapping[str, Mapping[str, Any] | None] | None = None,
        user_groups: Mapping[str, str] | None = None,
    ) -> None:
        self.stack = stack
        self.region = region
        self.account = account
        self.answers = dict(answers or {})
        """Per function token: fields that replace the made-up answer, or None for "not found"."""
        self.user_groups = dict(user_groups or {})
        """Per ElastiCache replication group the stack names, the user group it names: offline cannot
        see the cache, so it answers that group attached (a stack past its first deploy); an answer
        (`UserGroupIds`) shows a first deploy instead."""

    def autoname(self, logical: str) -> str:
        return f"{logical}-{_digest(self.stack, logical)[:7]}"

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        plain = unwrap(args.inputs)
        state = dict(args.inputs)
        token = args.typ
        if token.startswith("aws:") and "name" not in plain:
            plain["name"] = state["name"] = self.autoname(args.name)
        if token == providers.RANDOM_PASSWORD:
            # Deterministic per stack, name and keepers, what makes a new password; not per length,
            # which a program may ignore on an existing one (ignoreChanges). It holds the
            # characters that break an unencoded URL, so composing must encode them.
            seed = _digest(self.stack, args.name, plain.get("keepers"))
            result = "@:/#" + seed + seed
            if plain.get("overrideSpecial"):  # a service's own rules: only its characters, its length
                result = (str(plain["overrideSpecial"]) + seed + seed)[: int(plain["length"])]
            state.update(result=result, bcryptHash="$2a$10$" + seed[:53])
            return f"{args.name}-id", state
        if token == providers.RANDOM_BYTES:
            # Deterministic per stack, name and keepers too; `base64` and `hex` are the same bytes.
            raw = bytes.fromhex(_digest(self.stack, args.name, plain.get("keepers")))[: int(plain["length"])]
            state.update(base64=base64.b64encode(raw).decode(), hex=raw.hex())
            return "none", state
        # A resource may name its own region (pulumi-aws 7); else the provider's.
        region = str(plain.get("region") or self.region)
        partition = providers.partition(region)
        if token == providers.KMS_KEY:
            key_id = str(uuid.UUID(_digest(self.stack, args.name)[:32]))
            state.update(keyId=key_id, arn=f"arn:{partition}:kms:{region}:{self.account}:key/{key_id}")
            return key_id, state
        if token == providers.KMS_ALIAS:
            state["arn"] = f"arn:{partition}:kms:{region}:{self.account}:{plain['name']}"
            return plain["name"], state
        if token == providers.SM_SECRET:
            suffix = _digest(plain["name"])[:6]  # AWS appends six random characters
            arn = f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{plain['name']}-{suffix}"
            state["arn"] = arn
            return arn, state
        if token == providers.SM_VERSION:
            # Secrets Manager mints a new version id for every new value.
            version_id = str(uuid.UUID(_digest(plain["secretId"], plain.get("secretString"))[:32]))
            state.update(versionId=version_id, arn=plain["secretId"])
            return f"{plain['secretId']}|{version_id}", state
        if token == providers.SNS_TOPIC:
            state["arn"] = f"arn:{partition}:sns:{region}:{self.account}:{plain['name']}"
            return state["arn"], state
        if token == providers.SQS_QUEUE:
            name = plain["name"]
            dns = providers.dns_suffix(partition)
            state.update(
                arn=f"arn:{partition}:sqs:{region}:{self.account}:{name}",
                url=f"https://sqs.{region}.{dns}/{self.account}/{name}",
            )
            return state["url"], state
        if token == providers.METRIC_ALARM:
            state["arn"] = f"arn:{partition}:cloudwatch:{region}:{self.account}:alarm:{plain['name']}"
            return plain["name"], state
        if token == providers.SNS_SUBSCRIPTION:
            state.update(arn=f"{plain['topic']}:{_digest(args.name)[:36]}", pendingConfirmation=False)
            return state["arn"], state
        if token == providers.EVENT_RULE:
            state["arn"] = f"arn:{partition}:events:{region}:{self.account}:rule/{plain['name']}"
            return plain["name"], state
        if token == providers.S3_BUCKET:
            # Bucket names are global: the provider names one from the logical name, in lower case.
            bucket = str(plain.get("bucket") or self.autoname(args.name).lower())
            state.update(bucket=bucket, arn=f"arn:{partition}:s3:::{bucket}")
            return bucket, state
        if token == providers.TRAIL:
            state["arn"] = f"arn:{partition}:cloudtrail:{region}:{self.account}:trail/{plain['name']}"
            return state["arn"], state
        if token == providers.IAM_ROLE:
            state.update(
                arn=f"arn:aws:iam::{self.account}:role/{plain['name']}",
                uniqueId="AROA" + _digest(args.name)[:17].upper(),
            )
            return plain["name"], state
        if token == providers.IAM_ROLE_POLICY:
            return f"{plain['role']}:{plain['name']}", state
        if token.startswith("kubernetes:"):
            metadata = dict(plain.get("metadata") or {})
            if not metadata.get("name"):
                metadata["name"] = self.autoname(args.name)
                state["metadata"] = {**(state.get("metadata") or {}), "name": metadata["name"]}
            namespace = metadata.get("namespace")
            return (f"{namespace}/{metadata['name']}" if namespace else metadata["name"]), state
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        if args.token in self.answers and self.answers[args.token] is None:
            # As a provider reports a failed lookup: the SDK raises "invoke of <token> failed".
            return {}, [("", "couldn't find resource (offline answer)")]
        made, given = self.made_up(args), dict(self.answers.get(args.token) or {})
        if isinstance(given.get("properties"), dict) and isinstance(made.get("properties"), str):
            # Cloud Control's properties are JSON text: a mapping given for them changes those named.
            given["properties"] = json.dumps({**json.loads(made["properties"]), **given["properties"]})
        return {**made, **given}, []

    def trail(self, name: str, region: str, partition: str) -> dict[str, Any]:
        """Cloud Control's answer for a healthy trail: multi-region, logging every management event
        (AWS::CloudTrail::Trail's properties, as JSON text)."""
        arn = f"arn:{partition}:cloudtrail:{region}:{self.account}:trail/{name}"
        properties = {
            "TrailName": name,
            "Arn": arn,
            "IsLogging": True,
            "IsMultiRegionTrail": True,
            "IncludeGlobalServiceEvents": True,
            "EnableLogFileValidation": True,
            "S3BucketName": f"{name}-logs-{self.account}",
            "EventSelectors": [{"IncludeManagementEvents": True, "ReadWriteType": "All"}],
        }
        return {"id": name, "identifier": name, "typeName": TRAIL_TYPE, "properties": json.dumps(properties)}

    def replication_group(self, group_id: str, partition: str) -> dict[str, Any]:
        """Cloud Control's answer for a replication group past its first deploy: the stack's user
        group on it (AWS::ElastiCache::ReplicationGroup's properties, as JSON text)."""
        attached = [self.user_groups[group_id]] if group_id in self.user_groups else []
        properties = {
            "ReplicationGroupId": group_id,
            "TransitEncryptionEnabled": True,
            "UserGroupIds": attached,
        }
        return {
            "id": group_id,
            "identifier": group_id,
            "typeName": REPLICATION_GROUP_TYPE,
            "properties": json.dumps(properties),
        }

    def made_up(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        """What the function would answer for a healthy account: a cluster on a current Kubernetes
        with every control plane log on, its IAM OIDC provider, and a trail as the audit needs it."""
        plain = unwrap(args.args)
        partition = providers.partition(self.region)
        if args.token == providers.GET_CALLER_IDENTITY:
            arn = f"arn:aws:sts::{self.account}:assumed-role/offline/offline"
            return {"accountId": self.account, "arn": arn, "id": self.account, "userId": "AROAOFFLINE"}
        if args.token == providers.GET_EKS_CLUSTER:
            name, dns = plain["name"], providers.dns_suffix(partition)
            cluster_id = _digest(self.stack, self.account, name)[:32].upper()
            return {
                "name": name,
                "id": name,
                "arn": f"arn:{partition}:eks:{self.region}:{self.account}:cluster/{name}",
                "version": "1.33",
                "endpoint": f"https://{cluster_id}.gr7.{self.region}.eks.{dns}",
                "certificateAuthorities": [{"data": "T0ZGTElORS1DQQ=="}],  # base64("OFFLINE-CA")
                "identities": [
                    {"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.{dns}/id/{cluster_id}"}]}
                ],
                "enabledClusterLogTypes": ["api", "audit", "authenticator"],
                "status": "ACTIVE",
            }
        if args.token == providers.GET_OIDC_PROVIDER:
            issuer = str(plain["url"]).removeprefix("https://")
            arn = f"arn:{partition}:iam::{self.account}:oidc-provider/{issuer}"
            return {"arn": arn, "id": arn, "url": issuer, "clientIdLists": ["sts.amazonaws.com"]}
        if args.token == providers.GET_CLOUDCONTROL_RESOURCE and plain.get("typeName") == TRAIL_TYPE:
            return self.trail(str(plain["identifier"]), str(plain.get("region") or self.region), partition)
        if (
            args.token == providers.GET_CLOUDCONTROL_RESOURCE
            and plain.get("typeName") == REPLICATION_GROUP_TYPE
        ):
            return self.replication_group(str(plain["identifier"]), partition)
        if args.token == providers.GET_REPLICATION_GROUP:
            group_id = str(plain["replicationGroupId"])
            arn = f"arn:{partition}:elasticache:{self.region}:{self.account}:replicationgroup:{group_id}"
            # No AUTH token: a cache on RBAC (pulumi-aws's authTokenEnabled).
            return {"id": group_id, "replicationGroupId": group_id, "arn": arn, "authTokenEnabled": False}
        raise NotImplementedError(f"the program made a provider call offline cannot answer: {args.token}")
