"""Compare two offline renders the way `pulumi preview --diff` reads: create, delete, update, replace.

Whether a change replaces rather than updates follows the providers' schemas: the inputs marked
"forces replacement" for the resource types offline knows (providers.py), Kubernetes' identity and
immutable fields, and anything a resource lists in `replaceOnChanges`. How a change reads is
formats.py's.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai_etl.offline import providers

# Inputs whose change makes the provider replace the resource ("ForceNew" in the providers' source),
# one entry for every resource type offline knows, an empty one where no input forces a replacement;
# tests/test_offline.py holds every name to the installed SDK (a renamed input cannot drift in) and
# every type a render of a committed stack declares to this table (a new type needs an entry).
# A resource's own `region` (pulumi-aws 7) forces a new one when it changes (terraform-provider-aws
# internal/provider, forceNewIfRegionChanges). Sources, in hashicorp/terraform-provider-aws:
REPLACE_ON: dict[str, tuple[str, ...]] = {
    # terraform-provider-random internal/provider/resource_password.go: every input forces a new
    # value; keepers exist for exactly that.
    providers.RANDOM_PASSWORD: ("*",),
    # So does every RandomBytes input (terraform-provider-random internal/provider/resource_bytes.go:
    # length RequiresReplace, keepers RequiresReplaceIfValuesNotNull).
    providers.RANDOM_BYTES: ("*",),
    # internal/service/kms/key.go, alias.go
    providers.KMS_KEY: (
        "customerMasterKeySpec",
        "keyUsage",
        "multiRegion",
        "customKeyStoreId",
        "xksKeyId",
        "region",
    ),
    providers.KMS_ALIAS: ("name", "namePrefix", "region"),
    # internal/service/sns/topic.go; topic_policy.go (arn); topic_subscription.go (endpoint,
    # protocol, topic_arn: a new endpoint is a new subscription, and a new confirmation)
    providers.SNS_TOPIC: ("name", "namePrefix", "fifoTopic", "region"),
    providers.SNS_TOPIC_POLICY: ("arn", "region"),
    providers.SNS_SUBSCRIPTION: ("endpoint", "protocol", "topic", "region"),
    # internal/service/events/rule.go; target.go (rule, target_id, event_bus_name)
    providers.EVENT_RULE: ("name", "namePrefix", "eventBusName", "region"),
    providers.EVENT_TARGET: ("rule", "targetId", "eventBusName", "region"),
    # internal/service/cloudwatch/metric_alarm.go (alarm_name, the SDK's `name`)
    providers.METRIC_ALARM: ("name", "region"),
    # internal/service/logs/metric_filter.go (name, log_group_name: a filter lives in its log group)
    providers.LOG_METRIC_FILTER: ("name", "logGroupName", "region"),
    # internal/service/sqs/queue.go (name, name_prefix, fifo_queue); queue_policy.go (queue_url)
    providers.SQS_QUEUE: ("name", "namePrefix", "fifoQueue", "region"),
    providers.SQS_QUEUE_POLICY: ("queueUrl", "region"),
    # internal/service/secretsmanager/secret.go; secret_version.go; secret_policy.go (secret_arn)
    providers.SM_SECRET: ("name", "namePrefix", "region"),
    providers.SM_VERSION: ("secretId", "secretString", "secretBinary", "region"),
    providers.SM_SECRET_POLICY: ("secretArn", "region"),
    # internal/service/cloudtrail/trail.go (name); internal/service/s3/bucket.go (bucket, prefix)
    providers.TRAIL: ("name", "region"),
    providers.S3_BUCKET: ("bucket", "bucketPrefix", "region"),
    # internal/service/s3/bucket_policy.go, bucket_public_access_block.go,
    # bucket_server_side_encryption_configuration.go, bucket_versioning.go: each is its bucket's (the
    # bucket is its id), and the expected owner where it takes one; taken to force a new resource as
    # the bucket's own name does (not read in those files here: a declared trail's bucket never moves)
    providers.S3_BUCKET_POLICY: ("bucket", "region"),
    providers.S3_PUBLIC_ACCESS_BLOCK: ("bucket", "region"),
    providers.S3_ENCRYPTION: ("bucket", "expectedBucketOwner", "region"),
    providers.S3_VERSIONING: ("bucket", "expectedBucketOwner", "region"),
    # internal/service/iam/role.go, role_policy.go (IAM is global: no region)
    providers.IAM_ROLE: ("name", "namePrefix", "path"),
    providers.IAM_ROLE_POLICY: ("name", "namePrefix", "role"),
    # internal/service/elasticache/user.go (user_id, user_name ForceNew: a password is an update, a
    # ModifyUser); user_group.go (engine ForceNew; the id names the group)
    providers.CACHE_USER: ("userId", "userName", "region"),
    providers.CACHE_USER_GROUP: ("userGroupId", "engine", "region"),
    # internal/service/elasticache/user_group_association.go (user_group_id, user_id ForceNew)
    providers.CACHE_USER_GROUP_MEMBER: ("userGroupId", "userId", "region"),
}
# Kubernetes: an object is identified by kind, namespace and name; some fields are immutable, and
# pulumi-kubernetes replaces the object when they change (pulumi/pulumi-kubernetes
# provider/pkg/provider/diff.go, forceNew: a Job's .spec.selector and .spec.template too).
K8S_REPLACE_ON: tuple[str, ...] = ("apiVersion", "kind", "metadata.name", "metadata.namespace")
K8S_IMMUTABLE: dict[str, tuple[str, ...]] = {
    providers.K8S_DEPLOYMENT: ("spec.selector",),
    providers.K8S_JOB: ("spec.selector", "spec.template"),
    providers.K8S_ROLE_BINDING: ("roleRef",),
}


@dataclass
class Change:
    """One resource's change."""

    op: str  # create | delete | update | replace
    urn: str
    type: str
    name: str
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)
    """(path, old, new) of each changed input; secrets appear as "[secret]"."""
    replace_reasons: list[str] = field(default_factory=list)


def item_key(items: list[Any], index: int) -> str:
    """`[name]` for a list of uniquely named objects (env vars, containers, ports: Kubernetes merges
    them by name, so an insertion shifts no other entry), else `[index]`."""
    names = [item.get("name") if isinstance(item, dict) else None for item in items]
    if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
        return f"[{names[index]}]"
    return f"[{index}]"


def json_document(value: Any) -> dict[str, Any] | list[Any] | None:
    """The object or array a string input holds as JSON (an IAM policy), else None."""
    if not isinstance(value, str) or value[:1] not in ("{", "["):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf paths of a JSON value, `spec.template.spec.containers[backend].env[JWT_SECRET_KEY].name`
    → value; a string holding a JSON document (an IAM policy) is followed into, field by field."""
    document = json_document(value)
    if document is not None:
        return flatten(document, path)
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{path}.{k}" if path else k))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}{item_key(value, i)}"))
        return out
    return {path: value}


def _covers(prefix: str, path: str) -> bool:
    return prefix == "*" or path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


def replace_triggers(record: dict[str, Any]) -> tuple[str, ...]:
    token = record["type"]
    triggers = REPLACE_ON.get(token, ())
    if token.startswith("kubernetes:"):
        triggers = K8S_REPLACE_ON + K8S_IMMUTABLE.get(token, ())
    return triggers + tuple(record.get("replaceOnChanges") or ())


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Changed input paths; a secret counts as changed when its fingerprint does. Paths under the
    resource's `ignoreChanges` keep their old value, as the engine keeps them."""
    before, after = flatten(old["inputs"]), flatten(new["inputs"])
    ignored = new.get("ignoreChanges") or []
    fields = [
        (p, before.get(p), after.get(p))
        for p in sorted(before.keys() | after.keys())
        if before.get(p) != after.get(p) and not any(_covers(i, p) for i in ignored)
    ]
    # Resource options the engine records in the state: a change shows, and replaces nothing.
    for option in ("protect", "retainOnDelete", "deleteBeforeReplace"):
        if old.get(option, False) != new.get(option, False):
            fields.append((f"[{option}]", old.get(option, False), new.get(option, False)))
    old_fp, new_fp = old.get("secretFingerprints", {}), new.get("secretFingerprints", {})
    for path in sorted(old_fp.keys() | new_fp.keys()):
        if old_fp.get(path) != new_fp.get(path) and not any(f[0] == path for f in fields):
            fields.append((path, "[secret]", "[secret] (changed)"))
    return fields


def active_cluster(kubeconfig: Any) -> Any:
    """The cluster a kubeconfig's current context points at (its `cluster` entry), or None."""
    config = json_document(kubeconfig)
    if not isinstance(config, dict):
        return None
    context: dict[str, Any] = next(
        (c for c in config.get("contexts") or [] if c.get("name") == config.get("current-context")), {}
    )
    name = (context.get("context") or {}).get("cluster")
    return next((c.get("cluster") for c in config.get("clusters") or [] if c.get("name") == name), None)


def provider_replaced(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """A Kubernetes provider whose active cluster changes is replaced, and with it every object it
    manages (pulumi/pulumi-kubernetes provider/pkg/provider/provider.go, DiffConfig; pulumi/pulumi
    pkg/resource/deploy/step_generator.go, providerChanged and calculateDependentReplacements)."""
    if new["type"] != providers.K8S_PROVIDER:
        return False
    return bool(
        active_cluster(old["inputs"].get("kubeconfig")) != active_cluster(new["inputs"].get("kubeconfig"))
    )


def diff(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> list[Change]:
    """The changes from `base` to `head` resources, in head's order, deletions last."""
    old = {r["urn"]: r for r in base}
    new = {r["urn"]: r for r in head}
    changes = []
    replaced_providers = {u for u, r in new.items() if u in old and provider_replaced(old[u], r)}
    for urn, record in new.items():
        if urn not in old:
            changes.append(Change("create", urn, record["type"], record["name"]))
            continue
        fields = changed_fields(old[urn], record)
        if urn in replaced_providers or record.get("provider") in replaced_providers:
            reason = "kubeconfig (another cluster)" if urn in replaced_providers else "provider"
            changes.append(Change("replace", urn, record["type"], record["name"], fields, [reason]))
            continue
        if not fields:
            continue
        triggers = replace_triggers(record)
        inputs = [p for p, _, _ in fields if not p.startswith("[")]
        reasons = sorted({t for p in inputs for t in triggers if _covers(t, p)} - {"*"})
        if "*" in triggers:
            reasons = sorted({p.split(".")[0].split("[")[0] for p in inputs})
        op = "replace" if reasons else "update"
        changes.append(Change(op, urn, record["type"], record["name"], fields, reasons))
    for urn, record in old.items():
        if urn not in new:
            changes.append(Change("delete", urn, record["type"], record["name"]))
    return changes


@dataclass(frozen=True)
class Phase:
    """Steps of `pulumi up` that may run side by side: each starts once the steps it depends on are
    done, and the longest chain of steps under it is the phase's number. The last phase is the
    deletions, which wait for every other step."""

    changes: tuple[Change, ...]
    deletions: bool = False
    deleted_first: tuple[str, ...] = ()
    """The URNs of this phase's replacements whose old resource is deleted before the new one is made
    (deleteBeforeReplace), so not in the deletions."""


def _needs(record: dict[str, Any]) -> set[str]:
    """What a resource waits for before it registers: the resources it depends on, its parent and
    its provider (the SDK awaits each one's URN, which the engine answers once that resource's own
    step is done)."""
    needs = set(record.get("dependencies") or [])
    needs.update(u for u in (record.get("parent"), record.get("provider")) if u)
    return needs


def deletes_before_replace(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a replacement deletes the old resource before it creates the new one: the program
    asks (deleteBeforeReplace), or pulumi-kubernetes does, for an object whose new version must have
    the old one's name in the same namespace (pulumi/pulumi-kubernetes provider/pkg/provider/
    provider.go, Diff: deleteBeforeReplace)."""
    if new.get("deleteBeforeReplace"):
        return True
    if not new["type"].startswith("kubernetes:"):
        return False

    def named(record: dict[str, Any]) -> tuple[Any, Any]:
        metadata = record["inputs"].get("metadata") or {}
        return metadata.get("name"), metadata.get("namespace")

    return named(old)[0] is not None and named(old) == named(new)


def phases(base: list[dict[str, Any]], head: list[dict[str, Any]], changes: list[Change]) -> list[Phase]:
    """`changes` in the order `pulumi up` runs them. A resource's step is generated when the program
    registers it, and the SDK registers it only once every resource it needs has completed its own
    step (pulumi/pulumi sdk/python/lib/pulumi/runtime/rpc.py, _add_dependency awaits each URN, which
    pkg/resource/deploy/source_eval.go, RegisterResource, sends once the step is done); an unchanged
    resource takes no time, a component none either. Deletions come last: once the program is done,
    the engine deletes what it no longer declares and the old halves of replacements, dependents
    first (pkg/resource/deploy/deployment_executor.go, performPostSteps; step_generator.go,
    GenerateDeletes and ScheduleDeletes); a replacement that deletes before it creates does it in
    its own phase (step_generator.go, continueStepsFromDiff)."""
    old = {r["urn"]: r for r in base}
    new = {r["urn"]: r for r in head}
    by_urn = {c.urn: c for c in changes}
    level: dict[str, int] = {}

    def level_of(urn: str) -> int:
        if urn not in level:
            record = new[urn]
            below = max((level_of(u) for u in _needs(record) if u in new), default=0)
            stepped = urn in by_urn and by_urn[urn].op != "delete" and record.get("custom", True)
            level[urn] = below + 1 if stepped else below
        return level[urn]

    waves: dict[int, list[Change]] = {}
    first: set[str] = set()
    condemned: dict[str, Change] = {}
    for change in changes:
        if not (new.get(change.urn) or old[change.urn]).get("custom", True):
            continue  # a component: no step of its own
        if change.op == "delete":
            condemned[change.urn] = change
            continue
        waves.setdefault(level_of(change.urn), []).append(change)
        if change.op == "replace":
            if deletes_before_replace(old[change.urn], new[change.urn]):
                first.add(change.urn)
            else:
                condemned[change.urn] = change
    found = [
        Phase(tuple(cs), deleted_first=tuple(c.urn for c in cs if c.urn in first))
        for _, cs in sorted(waves.items())
    ]
    if condemned:
        found.append(Phase(tuple(_dependents_first(old, condemned)), deletions=True))
    return found


def _dependents_first(old: dict[str, dict[str, Any]], condemned: dict[str, Change]) -> list[Change]:
    """The deletions in the engine's order: a resource goes once nothing condemned that depends on
    it is left (ScheduleDeletes' antichains, reversed)."""
    height: dict[str, int] = {}

    def height_of(urn: str) -> int:
        if urn not in height:
            needs = _needs(old[urn]) & condemned.keys()
            height[urn] = 1 + max((height_of(u) for u in needs), default=0)
        return height[urn]

    return sorted(condemned.values(), key=lambda c: -height_of(c.urn))


def holds_render(folder: Path) -> bool:
    """Whether `folder` holds a render (its resources.json)."""
    return (folder / "resources.json").exists()


def _again(folder: Path) -> str:
    return f"python -m ai_etl.offline render '<stack>' --out {shlex.quote(str(folder))}"


def _render(folder: Path) -> dict[str, Any]:
    """The render in `folder`; FileNotFoundError or ValueError (one line, with the fix) if there is
    none or it is not one (cut short, edited by hand)."""
    path = folder / "resources.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: render it first ({_again(folder)})")
    try:
        document = json.loads(path.read_text())
    except (ValueError, OSError) as error:
        raise ValueError(
            f"{path} is not a render ({type(error).__name__}): render it again ({_again(folder)})"
        ) from None
    resources = document.get("resources") if isinstance(document, dict) else None
    if not isinstance(resources, list) or not all(
        isinstance(r, dict) and isinstance(r.get("urn"), str) and isinstance(r.get("type"), str)
        for r in resources
    ):
        raise ValueError(f"{path} is not a render (no list of resources): render it again ({_again(folder)})")
    return document


def load(folder: Path) -> list[dict[str, Any]]:
    """The resources of the render in `folder` (see _render for its errors)."""
    return list(_render(folder)["resources"])


def provider_config_of(folder: Path) -> dict[str, Any]:
    """The provider configuration recorded by the render in `folder` (none in a render made before
    renders recorded it)."""
    config = _render(folder).get("providerConfig")
    return config if isinstance(config, dict) else {}


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(path, old, new) of each changed provider setting, `aws:endpoints[0].sts` for one inside an
    object; a hidden value (a secret, URL credentials) counts as changed when its fingerprint does."""

    def as_record(config: dict[str, Any]) -> dict[str, Any]:
        return {
            "inputs": config.get("values") or {},
            "secretFingerprints": config.get("secretFingerprints") or {},
        }

    # An empty configuration flattens to one empty path, which is no setting.
    return [f for f in changed_fields(as_record(old), as_record(new)) if f[0]]


def config_key(path: str) -> str:
    """The config key a changed setting's path is under (`aws:endpoints` of `aws:endpoints[0].sts`)."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def stack_of(folder: Path) -> str:
    """The stack a render folder was made from."""
    return str(_render(folder).get("stack", folder.name))


def unchanged_count(head: list[dict[str, Any]], changes: list[Change]) -> int:
    """The resources of `head` that no change touches."""
    touched = {c.urn for c in changes}
    return sum(1 for r in head if r["urn"] not in touched)
