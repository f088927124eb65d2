"""The checks that span several keys, or the config and the world (the stack's name, the region's
partition, the provided secrets' encryption, the production grade, a takeover's adopted values, the
namespace among the cluster's and the other stacks', keys under a misspelt project name).
Each adds its problems, with the key and the fix, to `Problems`; `parse_settings` calls them all
before anything is declared."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import pulumi

from ai_etl import names
from ai_etl.catalogue import SecretSpec
from ai_etl.config import providers
from ai_etl.config.commands import Commands, joined, word
from ai_etl.config.fields import (
    LABEL,
    OIDC_PROVIDER_ARN,
    TRAIL,
    aws_regions,
    image_tag,
    mended_region,
    pinned,
)
from ai_etl.config.models import DECLARE_TRAIL, ELASTICACHE, REPLICA_PLACEHOLDER, RedisSettings, StackConfig
from ai_etl.config.problems import Problems, Target, already, meant
from ai_etl.config.reading import ADOPT, NOT_AN_OBJECT, SECRET, RawConfig
from ai_etl.config.stackfiles import file_stack
from ai_etl.grade import PRODUCTION, RECOVERY_WINDOW_FOR
from ai_etl.masking import SECRET_SHOWN, masked

STEP_IMAGE = "stepImage"
"""The rotation steps' image (`ai-etl:stepImage`)."""
SUPPORTED_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
"""Partitions whose IAM OIDC providers (IRSA) the program's ARN check accepts."""
PROVIDER_NAMESPACES = providers.NAMESPACES
"""Config namespaces the program's providers (ai_etl/tokens.py) and the engine itself read."""


def stack_name(problems: Problems, stack: str) -> None:
    """The stack's name goes into the namespace, Secrets Manager paths and IAM role names."""
    if not re.fullmatch(LABEL, stack) or len(stack) > 40:
        better = re.sub(r"[^a-z0-9]+", "-", stack.lower())[:40].strip("-") or "dev"
        problems.add(
            "stack name",
            f"{stack!r} must be lower-case letters, digits and '-' (at most 40): it names the "
            "namespace, Secrets Manager paths and IAM roles",
            f"pulumi stack rename {word(better)} --stack {word(stack)}",
        )


REGION = "aws:region"
REGION_PLACEHOLDER = "<region>"
"""What a fix sets a region to when the user's cannot be read as one: the program cannot know where
the stack's secrets are, and a region of ours, pasted, would move them (every resource replaced)."""


def region_and_partition(problems: Problems, raw: RawConfig) -> None:
    """A real region, in a partition the program supports, and the OIDC provider in the same one."""
    region = problems.shown(("aws:region",), raw.region)
    if raw.region not in aws_regions():
        secret = problems.is_secret((REGION,))
        mended = None if secret else mended_region(raw.region)
        close = [] if secret else difflib.get_close_matches(str(raw.region), list(aws_regions()), n=1)
        if raw.region is None:
            problem = "is required: the AWS region of Secrets Manager"
        elif secret:  # never echoed, nor hinted at; a region is no secret: the fix sets it in plain text
            problem = f"{region} is not an AWS region"
        elif mended:
            problem = f"{region} is not an AWS region; {mended} is, written as AWS writes it"
        else:
            problem = f"{region} is not an AWS region" + (f"; did you mean {close[0]}?" if close else "")
        problems.add(REGION, problem, problems.set_cmd((REGION,), mended or REGION_PLACEHOLDER))
    partition = aws_regions().get(str(raw.region))
    oidc = OIDC_PROVIDER_ARN.fullmatch(str(raw.values.get("oidcProviderArn")))
    if partition and oidc and oidc["partition"] != partition:
        problems.add(
            "oidcProviderArn",
            f"is in partition {oidc['partition']!r}, but aws:region {region} is in {partition!r}: "
            "the cluster's OIDC provider must be in the partition the secrets are in (the program "
            "derives it from the cluster: leave it out)",
            problems.rm_cmd(("oidcProviderArn",)),
        )
    elif partition and partition not in SUPPORTED_PARTITIONS:
        problems.add(
            "aws:region",
            f"{region} is in partition {partition!r}, which this program does not support "
            f"({', '.join(SUPPORTED_PARTITIONS)})",
            problems.set_cmd((REGION,), REGION_PLACEHOLDER),
        )


def provided_secrets(
    problems: Problems,
    raw: RawConfig,
    provided: tuple[SecretSpec, ...],
    optional: frozenset[str] = frozenset(),
) -> None:
    """Each provided secret set (but those in `optional`), non-empty and encrypted (its value is
    never read here)."""
    for spec in provided:
        key = str(spec.config_key)
        state, fix = raw.provided_state.get(key, "missing"), problems.set_secret_cmd((key,))
        if state == "missing" and key not in optional:
            problems.add(key, f"is required: {spec.description}", fix)
        elif state == "empty":
            problems.add(key, "is empty", fix)
        elif state == "plaintext":
            problem = (
                "is stored in plain text in the stack file; it must be encrypted (and the value "
                "rotated: it has been exposed)"
            )
            problems.add(key, problem, fix)


def replica_region(problems: Problems, raw: RawConfig, config: StackConfig) -> None:
    """A replica region AWS lists, in the secrets' partition, other than their own region. The fix
    asks for the region (a placeholder): only the user knows where the replica may live, and never
    removes the replica."""
    replica, region = config.replica_region, str(raw.region)
    if replica is None or region not in aws_regions():
        return
    fix = problems.set_cmd(("replicaRegion",), REPLICA_PLACEHOLDER)
    shown = problems.shown(("replicaRegion",), replica)
    if replica not in aws_regions():
        others = [r for r in aws_regions() if r != region]
        hidden = problems.is_secret(("replicaRegion",))  # a secret's closest region says much of it
        close = [] if hidden else difflib.get_close_matches(replica, others, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        problems.add("replicaRegion", f"{shown} is not an AWS region{hint}", fix)
    elif replica == region:
        problems.add(
            "replicaRegion",
            f"is aws:region ({SECRET_SHOWN if problems.is_secret(('aws:region',)) else region}): a replica "
            "must survive the loss of that region",
            fix,
        )
    elif aws_regions()[replica] != aws_regions()[region]:
        problems.add(
            "replicaRegion",
            f"{shown} is in partition {aws_regions()[replica]!r}, but aws:region "
            f"{problems.shown(('aws:region',), region)} is in "
            f"{aws_regions()[region]!r}: Secrets Manager replicates within a partition",
            fix,
        )


def _digest_placeholder(image: str) -> str:
    """The user's image, to be pinned: its repository and tag kept (`<tag>` for none or latest),
    `<digest>` to fill in."""
    name, tag = image.partition("@")[0], image_tag(image)
    if tag in (None, "latest"):
        name = (name.removesuffix(":latest") if tag else name) + ":<tag>"
    return f"{name}@sha256:<digest>"


def allowed_accounts(elsewhere: Mapping[str, Any]) -> list[str]:
    """The accounts `aws:allowedAccountIds` pins the stack to (the AWS provider refuses any other)."""
    given = elsewhere.get(ACCOUNT_PIN)
    return [str(a) for a in given] if isinstance(given, list) else []


ACCOUNT_PIN = "aws:allowedAccountIds"
ACCOUNT_ID = re.compile(r"[0-9]{12}")
"""An AWS account id: twelve digits, as text (unquoted in YAML, `012345678901` loses its zero)."""


def account_pin(problems: Problems, elsewhere: Mapping[str, Any]) -> None:
    """`aws:allowedAccountIds`, when given, a list of account ids: anything else would pin the
    stack to no real account (and end up in every ARN the program builds from it)."""
    given = elsewhere.get(ACCOUNT_PIN)
    if given is None:
        return
    if not isinstance(given, list):
        bad = [given]
    else:
        bad = [a for a in given if isinstance(a, bool) or not ACCOUNT_ID.fullmatch(str(a))]
    if bad:
        problems.add(
            ACCOUNT_PIN,
            "must be a list of 12-digit account ids, each as text (quote one that starts with 0), "
            f"got {problems.shown((ACCOUNT_PIN,), bad[0])}",
            joined(
                problems.rm_cmd((ACCOUNT_PIN,)),
                problems.set_cmd((ACCOUNT_PIN, 0), "<account>", text_only=True),
            ),
        )


def pin_and_alert_warnings(config: StackConfig, elsewhere: Mapping[str, Any], stack: str) -> list[str]:
    """Below production grade an unpinned stack, or alerts that reach no one, are allowed, and said."""
    if config.grade == PRODUCTION:
        return []  # production_grade refuses both
    quoted = word(stack)
    warnings = []
    if not allowed_accounts(elsewhere):
        warnings.append(
            f"aws:allowedAccountIds is not set: the stack deploys into whatever account the "
            f"credentials reach; pin it: pulumi config set --type string --path "
            f"'aws:allowedAccountIds[0]' '<account>' --stack {quoted}"
        )
    if not (config.audit_email or config.audit_endpoint):
        warnings.append(
            f"auditEmail is not set: the access alerts reach no one; "
            f"pulumi config set auditEmail '<address>' --stack {quoted}"
        )
    if config.audit_trail is None:
        fix = Commands(stack).set(("auditTrail",), DECLARE_TRAIL)
        warnings.append(f"auditTrail is not set: {NO_TRAIL}; {fix}")
    return warnings


NO_TRAIL = (
    "nothing checks that a trail records the reads the access alerts watch for (name the account's "
    f"multi-region trail, or {DECLARE_TRAIL!r} one of the stack's own)"
)


def production_grade(
    problems: Problems,
    config: StackConfig,
    workloads: Mapping[str, Any],
    raw_elsewhere: Mapping[str, Any] | None = None,
) -> None:
    """What `grade: production` requires, stated in the stack file rather than implied by a name."""
    why = "in a production-grade stack (ai-etl:grade)"
    raw_elsewhere = raw_elsewhere or {}

    def need(key: str, problem: str, fix: str | None) -> None:
        """A requirement's problem, unless an earlier one names the key or a fix moves a value there
        (a misspelt key's, checked on the next run): one fix per key, none contradicting another."""
        if not problems.has(key):
            problems.add(key, problem, fix)

    if not config.protect:
        fix = problems.set_cmd(("protect",), True)
        need("protect", f"must be true {why}: the KMS key and the secrets", fix)
    needed = RECOVERY_WINDOW_FOR[PRODUCTION]
    if config.recovery_window_in_days != needed:
        need(
            "recoveryWindowInDays",
            f"must be {needed} {why}, got "
            f"{problems.shown(('recoveryWindowInDays',), config.recovery_window_in_days)}",
            problems.set_cmd(("recoveryWindowInDays",), needed),
        )
    if config.replica_region is None:
        need(
            "replicaRegion",
            f"is required {why}: the recovery window does not survive the loss of the region, so "
            "every secret keeps a replica, encrypted, in a second one (a region of the same partition)",
            problems.set_cmd(("replicaRegion",), REPLICA_PLACEHOLDER),
        )
    if not (config.audit_email or config.audit_endpoint):
        need(
            "auditEmail",
            f"is required {why} (or auditEndpoint): the access alerts must reach someone",
            problems.set_cmd(("auditEmail",), "<address>"),
        )
    if config.audit_trail is None:
        need(
            "auditTrail",
            f"is required {why}: {NO_TRAIL}",
            problems.set_cmd(("auditTrail",), DECLARE_TRAIL),
        )
    trail = TRAIL.fullmatch(config.audit_trail or "")
    accounts = allowed_accounts(raw_elsewhere)
    if trail and trail["account"] and accounts and trail["account"] != accounts[0]:
        # An organization trail's StopLogging or UpdateTrail is a call in its own (management)
        # account: this account's EventBridge never sees it, so the tamper rules cannot either.
        need(
            "auditTrail",
            f"must be a trail of the stack's account ({accounts[0]}) {why}: changes to a trail of account "
            f"{trail['account']} are made there, where this stack's rules cannot see them",
            problems.set_cmd(("auditTrail",), DECLARE_TRAIL),
        )
    if not accounts:
        need(
            "aws:allowedAccountIds",
            f"is required {why}: without it the stack deploys into whatever account the credentials reach",
            problems.set_cmd(("aws:allowedAccountIds", 0), "<account>", text_only=True),
        )
    for path, image in images(config, workloads).items():
        if not pinned(image):
            problems.add(
                ".".join(path),
                f"must be pinned by digest {why}, so what was previewed is what runs; got "
                f"{problems.shown(path, image)}",
                problems.keep_cmd(path, _digest_placeholder(image)),
            )


def images(config: StackConfig, workloads: Mapping[str, Any]) -> dict[tuple[str, ...], str]:
    """Every container image of the stack, by its key's path: each workload's, then the steps'."""
    found: dict[tuple[str, ...], str] = {(n, "image"): w.image for n, w in workloads.items() if w is not None}
    return {**found, (STEP_IMAGE,): config.step_image}


def image_warnings(config: StackConfig, workloads: Mapping[str, Any], stack: str) -> list[str]:
    """Below production grade an image by tag is allowed, but `:latest`, or no tag (which means
    latest: distribution/reference `normalize.go`, TagNameOnly), names no build at all: each node
    pulls what the tag points to when a pod starts there."""
    if config.grade == PRODUCTION:
        return []  # production_grade refuses any image not pinned by digest
    warnings = []
    for path, image in images(config, workloads).items():
        if pinned(image) or image_tag(image) not in (None, "latest"):
            continue
        what = "no tag, which means :latest" if image_tag(image) is None else "the tag :latest"
        fix = Commands(stack).set(path, _digest_placeholder(image))
        warnings.append(  # parse_settings has refused a secret image before any warning
            f"{'.'.join(path)} {masked(image)} has {what}: pods started at different times may run "
            f"different builds, and no preview shows which; pin it by tag and digest: {fix}"
        )
    return warnings


GENERATION_DIGITS = 18
"""The most digits a generation may have: past them no rotation count is meant, and Python refuses
to read a number of 4300 digits or more (sys.get_int_max_str_digits) with a ValueError."""


def generation(value: object) -> int | None:
    """A server credential's generation from its rotation value as the CLI stores it (`--path`
    stores 2 as an integer, plain `config set` as text); None if it is not a whole number >= 0 of
    at most GENERATION_DIGITS digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < 10**GENERATION_DIGITS else None
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= GENERATION_DIGITS else None


GENERATION_PLACEHOLDER = "<its generation now, plus one>"
"""What a fix sets a server credential's generation to: only the user knows the one in use."""


def generations(problems: Problems, entries: Mapping[str, Any], servers: tuple[SecretSpec, ...]) -> None:
    """A server credential's rotation value (`entries`: `ai-etl:rotation` as read) is its
    generation: a whole number, each bump moving the backend to the other login role
    (ai_etl/components/serverauth.py)."""
    for spec in servers:
        if spec.key not in entries or generation(entries[spec.key]) is not None:
            continue
        shown = problems.shown(("rotation", spec.key), entries[spec.key])
        problems.add(
            ("rotation", spec.key),
            f"must be a whole number of 0 or more (at most {GENERATION_DIGITS} digits), got {shown}: "
            f"it counts {spec.key}'s rotations, "
            "and each one moves the backend to the other login role (docs/runbooks.md)",
            # Never a number of ours: on a stack already past it, a lower one or one of the same
            # parity gives the running pods' login role a new password (docs/runbooks.md).
            problems.set_cmd(("rotation", spec.key), GENERATION_PLACEHOLDER),
        )


def adopted(problems: Problems, raw: RawConfig, generated: list[str]) -> None:
    """`ai-etl:adopt` (docs/takeover.md): an encrypted object of generated keys only, every value
    inside it encrypted (the stack file tells which are: reading.py)."""
    for key in raw.adopted:
        if key == NOT_AN_OBJECT:
            problem = "must be an object: generated key -> live value (docs/takeover.md step 1 sets it)"
            problems.add(ADOPT, problem, problems.rm_cmd((ADOPT,)))
        elif key not in generated:  # removed, or moved by prompt, by its own fix
            problems.unknown((ADOPT, key), dict.fromkeys(generated, Target(secret=True)), present=raw.adopted)
    leaves = [
        leaf
        for leaf in raw.adopt_plain or tuple((ADOPT, k) for k in raw.adopted)
        if str(leaf[1]) in generated
    ]
    if leaves and not raw.adopt_encrypted:
        fix = joined(*(problems.set_secret_cmd(leaf) for leaf in leaves))
        if raw.adopt_plain:
            plain = ", ".join(".".join(map(str, leaf)) for leaf in leaves)
            problem = (
                f"holds live credentials in plain text ({plain}) beside encrypted ones; each must be "
                "encrypted: set each again with --secret (it prompts), and rotate it once the "
                "takeover is done"
            )
        else:
            problem = (
                "holds live credentials in plain text; it must be encrypted: set each again with "
                "--secret (it prompts), and rotate them once the takeover is done: they have been exposed"
            )
        problems.add(ADOPT, problem, fix)


def adopted_in_use(raw: RawConfig, never_rotated: set[str]) -> list[str]:
    """The adopted keys still in use: those not rotated since the takeover. The others are warned
    about, with the command that removes them."""
    kept = [k for k in raw.adopted if k in never_rotated]
    for key in sorted(set(raw.adopted) - set(kept)):
        fix = Commands(raw.stack).rm((ADOPT, key))
        pulumi.log.warn(f"{ADOPT}.{key} is ignored: {key} was rotated. Remove it: {fix}")
    return kept


def _reserved(namespace: str) -> str | None:
    """Why the program must not take `namespace`, if it must not."""
    if namespace in names.SYSTEM_NAMESPACES or namespace.startswith(names.RESERVED_NAMESPACE_PREFIX):
        return "a Kubernetes system namespace"
    if namespace == names.OPERATOR_NAMESPACE:
        return "the External Secrets Operator's namespace"
    return None


def namespace(problems: Problems, raw: RawConfig, config: StackConfig) -> None:
    """The stack's namespace is its own: not one of the cluster's system namespaces or the
    operator's (a `pulumi destroy` deletes the namespace with everything in it), and not another
    stack's on the same cluster (one would take over the other's Secrets and Deployment, and a
    destroy of either would delete both)."""
    ours = names.namespace(raw.stack, config.namespace)
    taken = {
        other: names.namespace(other, o.namespace)
        for other, o in raw.others.items()
        # Namespaces are per cluster; a stack file naming no cluster or region may share ours.
        if o.cluster in (None, config.cluster_name) and o.region in (None, raw.region)
    }

    def fix_of(stack: str) -> str | None:
        """Give `stack` its default namespace back, or the first free one after it."""
        used = {n for s, n in {**taken, raw.stack: ours}.items() if s != stack}
        candidates = (names.prefix(stack), *(f"{names.prefix(stack)}-{i}" for i in range(2, 100)))
        free = next(n for n in candidates if n not in used and not _reserved(n))
        cli = Commands(stack)
        return cli.rm(("namespace",)) if free == names.prefix(stack) else cli.set(("namespace",), free)

    reason = _reserved(ours)
    shown = problems.shown(("namespace",), ours)
    if reason:
        problems.add(
            "namespace",
            f"{shown} is {reason}: the stack's objects would go there, and a pulumi destroy would "
            "delete the namespace with everything in it",
            fix_of(raw.stack),
        )
        return
    for other, theirs in sorted(taken.items()):
        if theirs != ours or file_stack(other) == file_stack(raw.stack):
            continue
        # The stack that chose the name by hand gives it up.
        mine = config.namespace is not None
        problems.add(
            "namespace",
            f"{shown} is also the namespace of stack {other!r} (Pulumi.{file_stack(other)}.yaml), on the "
            "same cluster: each would take over the other's Secrets and Deployment, and a pulumi "
            "destroy of either would delete both",
            fix_of(raw.stack if mine else other),
        )


def misspelt_namespaces(problems: Problems, raw: RawConfig, known: Mapping[str, Target]) -> None:
    """Keys under a misspelling of the project's namespace: no provider reads them and the program
    reads only `ai-etl:` keys, so they would be ignored in silence. Each moves to the `ai-etl:` key
    meant, its value kept (by prompt if it was secret)."""
    present = stated(raw)
    for key, value in raw.elsewhere.items():
        space, _, name = key.partition(":")
        if not name or not providers.looks_like_ours(space):
            continue
        close = name if name in known else meant(name, known)
        problem = f"is under {space!r}, which nothing reads: this program reads only {names.PROJECT}: keys"
        if close is None:
            fix = problems.rm_cmd((key,))
        elif close in present or problems.has(close):
            problem += f"; did you mean {names.PROJECT}:{close}? {already(close)}"
            fix = problems.rm_cmd((key,))
        else:
            problem += f"; did you mean {names.PROJECT}:{close}?"
            fix = problems.moved((key,), value, (close,), known[close], secret=holds_secret(value))
        problems.add(key, problem, fix)


def stated(raw: RawConfig) -> set[str]:
    """The `ai-etl:` keys the stack sets itself: a misspelt key's value never moves over one."""
    return {k for k in (*raw.values, *raw.provided_state, ADOPT) if raw.is_set(k)}


def holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return any(holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_secret(v) for v in value)
    return value is SECRET


CACHE_PASSWORD_MAX = 128
"""ElastiCache's longest password (CreateUser/ModifyUser, and the AUTH token: "Must be at least 16
characters and no more than 128", botocore's elasticache model, ModifyReplicationGroup AuthToken)."""


def cache(problems: Problems, config: StackConfig) -> None:
    """Redis on ElastiCache: what the program needs to declare its users (the replication group, the
    user group, its primary endpoint as host), TLS on (ElastiCache allows AUTH and RBAC only with
    in-transit encryption: its AUTH documentation, docs.aws.amazon.com AmazonElastiCache dg
    auth.html), and passwords ElastiCache takes. In the cluster, TLS is refused: the step's
    redis-cli speaks plain Redis there."""
    redis = config.redis
    if redis.kind != ELASTICACHE:
        if redis.tls:
            problems.add(
                ("redis", "tls"),
                "kind cluster speaks plain Redis (the rotation step's redis-cli has no TLS); TLS is for "
                "kind elasticache",
                problems.rm_cmd(("redis", "tls")),
            )
        return
    for key, value, what, placeholder in (
        ("replicationGroupId", redis.replication_group_id, "the replication group whose users the "
         "program declares", "<replication group id>"),
        ("userGroupId", redis.user_group_id, "the user group the program declares, holding those "
         "users", "<user group id>"),
    ):  # fmt: skip
        if value is None:
            problems.add(
                ("redis", key),
                f"is required with redis.kind elasticache: {what}",
                problems.set_cmd(("redis", key), placeholder),
            )
    if redis.host == RedisSettings.model_fields["host"].default:
        problems.add(
            ("redis", "host"),
            "is the in-cluster Service's name; with kind elasticache it is the replication group's primary "
            "endpoint (aws elasticache describe-replication-groups: NodeGroups[0].PrimaryEndpoint.Address)",
            problems.set_cmd(("redis", "host"), "<primary endpoint>"),
        )
    if redis.tls is False:
        problems.add(
            ("redis", "tls"),
            "ElastiCache allows AUTH and its users only with in-transit encryption, so the backend must "
            "connect with TLS (rediss://); turn in-transit encryption on for the replication group if it "
            "is off (docs/takeover.md)",
            problems.rm_cmd(("redis", "tls")),
        )
    if config.password_length > CACHE_PASSWORD_MAX:
        problems.add(
            "passwordLength",
            f"ElastiCache takes passwords of at most {CACHE_PASSWORD_MAX} characters",
            problems.set_cmd(("passwordLength",), CACHE_PASSWORD_MAX),
        )
