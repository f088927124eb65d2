"""Every stack config key outside the project's namespace that a provider (or the engine) reads, in one
table: what the program expects, what is harmless, what changes where the AWS calls go, which identity
makes them or whether TLS is verified, and what reaches no provider the program uses.

Stack config reaches only Pulumi's default providers: the engine makes the default provider of a package
with that package's config (`aws:*`) as its inputs (pulumi/pulumi pkg/resource/deploy/default_providers.go,
newRegisterDefaultProviderEvent, GetPackageConfig). Every AWS resource and lookup of the program uses the
default AWS provider, so each `aws:` key reaches it; every Kubernetes object goes through the stack's own
provider (ai_etl/environment.py), so no `kubernetes:` key reaches anything (tests/test_provider_keys.py
holds both facts to a render). The keys are the installed SDKs' (pulumi_aws's `config/vars.py` and
`Provider` inputs, pulumi_kubernetes's `Provider` inputs: pulumi/pulumi-aws and pulumi/pulumi-kubernetes
generate both from the "config" section and the provider inputs of their
`provider/cmd/pulumi-resource-*/schema.json`); a test fails on a key of theirs missing here.
What a key does is upstream's: hashicorp/terraform-provider-aws internal/conns/config.go (which
setting feeds the AWS client) and hashicorp/aws-sdk-go-base internal/config/config.go (HTTPTransportOptions:
`insecure` is InsecureSkipVerify; `httpProxy` serves HTTPS too unless `httpsProxy` is set).
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ai_etl.config.commands import Commands, shown, word
from ai_etl.config.problems import Problems
from ai_etl.config.reading import SECRET
from ai_etl.config.stackfiles import file_stack
from ai_etl.grade import GRADE_KEY, PRODUCTION
from ai_etl.masking import credential_key
from ai_etl.names import PROJECT


class Kind(enum.Enum):
    EXPECTED = "expected"
    """The program reads it, or requires it, and checks it."""
    HARMLESS = "harmless"
    """Tunes a provider or the engine; it sends no call elsewhere, changes no identity or TLS check."""
    REDIRECTS = "redirects"
    """Changes where the calls go, which identity makes them, or whether TLS is verified."""
    INERT = "inert"
    """Reaches no provider the program uses: it does nothing but mislead a reviewer."""
    UNCLASSIFIED = "unclassified"
    """Not a key of the installed provider: what it would do is unknown, so it is treated as redirecting."""


@dataclass(frozen=True)
class ProviderKey:
    kind: Kind
    reason: str
    """What the key does, in one line."""


REFUSED_AT_PRODUCTION = (Kind.REDIRECTS, Kind.INERT, Kind.UNCLASSIFIED)
"""The kinds a production-grade stack refuses and any other stack is warned of at each preview."""

_K8S_INERT = ProviderKey(
    Kind.INERT,
    "it reaches no provider of this program: every Kubernetes object goes through the stack's own "
    "provider, made for its clusterName, so it would only mislead a reviewer",
)
KUBERNETES_KEYS = (
    "alwaysRender",
    "cluster",
    "clusterIdentifier",
    "context",
    "deleteUnreachable",
    "enableConfigMapMutable",
    "enablePatchForce",
    "enableSecretMutable",
    "enableServerSideApply",
    "helmReleaseSettings",
    "kubeClientSettings",
    "kubeconfig",
    "namespace",
    "renderYamlToDirectory",
    "skipUpdateUnreachable",
    "suppressDeprecationWarnings",
    "suppressHelmHookWarnings",
    "upsertExistingObjects",
)
"""The default Kubernetes provider's settings (pulumi_kubernetes.ProviderArgs)."""


def _redirects(reason: str) -> ProviderKey:
    return ProviderKey(Kind.REDIRECTS, reason)


def _harmless(reason: str) -> ProviderKey:
    return ProviderKey(Kind.HARMLESS, reason)


PROVIDER_KEYS: dict[str, ProviderKey] = {
    # What the program expects (crosschecks.py checks both).
    "aws:region": ProviderKey(Kind.EXPECTED, "the region of the secrets, their KMS key and the SecretStore"),
    "aws:allowedAccountIds": ProviderKey(
        Kind.EXPECTED, "pins the AWS provider to the stack's account: it refuses credentials of any other"
    ),
    # Where the calls go.
    "aws:endpoints": _redirects(
        "it sends each named service's calls (Secrets Manager, KMS, STS...) to the URL given instead of "
        "AWS, every secret value with them"
    ),
    "aws:httpProxy": _redirects(
        "it sends the AWS calls through the proxy given (HTTPS ones too, unless httpsProxy is set)"
    ),
    "aws:httpsProxy": _redirects("it sends the AWS calls through the proxy given"),
    "aws:noProxy": _redirects("it decides which hosts the AWS calls reach without the proxy"),
    "aws:stsRegion": _redirects("it sends the STS calls that establish the identity to another region"),
    "aws:ec2MetadataServiceEndpoint": _redirects(
        "it takes the credentials from a metadata service at the address given"
    ),
    "aws:skipMetadataApiCheck": _redirects(
        "it changes where the credentials come from (the EC2 metadata service)"
    ),
    "aws:skipCredentialsValidation": _redirects(
        "it skips checking the credentials with STS, which only an API that is not AWS needs"
    ),
    "aws:skipRequestingAccountId": _redirects(
        "it leaves the credentials' account unknown, which only an API that is not AWS needs"
    ),
    # Which identity makes them.
    "aws:accessKey": _redirects("the calls are made as this access key's owner, not the deploying identity"),
    "aws:secretKey": _redirects("the calls are made as this access key's owner, not the deploying identity"),
    "aws:token": _redirects("the calls are made as this session, not the deploying identity"),
    "aws:profile": _redirects("the calls are made as this profile of the deploying machine's AWS config"),
    "aws:sharedConfigFiles": _redirects(
        "the profile, and with it the identity, is read from the files given"
    ),
    "aws:sharedCredentialsFiles": _redirects("the credentials are read from the files given"),
    "aws:assumeRoles": _redirects("the calls are made as the role(s) assumed"),
    "aws:assumeRoleWithWebIdentity": _redirects(
        "the calls are made as the role assumed with the token given"
    ),
    # Whether TLS is verified.
    "aws:insecure": _redirects(
        "it turns off TLS certificate verification: anyone on the way can read and answer every call"
    ),
    "aws:customCaBundle": _redirects(
        "it trusts the certificate authorities of the file given: a host with a certificate of theirs "
        "passes for AWS"
    ),
    # Harmless: a provider's own tuning.
    "aws:defaultTags": _harmless("tags every AWS resource the provider manages"),
    "aws:ignoreTags": _harmless("keeps the listed tags out of the provider's diffs"),
    "aws:forbiddenAccountIds": _harmless(
        "refuses credentials of the listed accounts, a guard like allowedAccountIds"
    ),
    "aws:maxRetries": _harmless("how many times a failed call is tried"),
    "aws:retryMode": _harmless("how failed calls are retried"),
    "aws:tokenBucketRateLimiterCapacity": _harmless("the AWS client's rate limit"),
    "aws:userAgents": _harmless("text added to the User-Agent of every call"),
    "aws:tagPolicyCompliance": _harmless("how the provider enforces the organization's tag policies"),
    "aws:skipRegionValidation": _harmless(
        "skips the provider's region check; the program checks aws:region against AWS's list itself"
    ),
    "aws:s3UsePathStyle": _harmless("the addressing of S3 calls, which the program makes none of"),
    "aws:s3UsEast1RegionalEndpoint": _harmless(
        "AWS's global or regional S3 endpoint in us-east-1; the program makes no S3 call"
    ),
    "aws:useDualstackEndpoint": _harmless("AWS's own dual-stack (IPv6) endpoints of the region"),
    "aws:useFipsEndpoint": _harmless("AWS's own FIPS endpoints of the region"),
    "aws:ec2MetadataServiceEndpointMode": _harmless(
        "IPv4 or IPv6 for the metadata service; it takes effect only with ec2MetadataServiceEndpoint"
    ),
    **{f"kubernetes:{key}": _K8S_INERT for key in KUBERNETES_KEYS},
    # The engine's own (pulumi/pulumi): default_providers.go, shouldDenyRequest; pkg/cmd/pulumi/
    # autonaming/config.go; pkg/backend/stack.go (pulumi:tags); pkg/cmd/pulumi/project/newcmd/config.go.
    "pulumi:disable-default-providers": _harmless(
        "stops the engine making the default providers listed; listing aws makes every preview fail"
    ),
    "pulumi:autonaming": _harmless(
        "how the engine names what the program leaves unnamed; offline renders do not apply it"
    ),
    "pulumi:tags": _harmless("the stack's tags in its backend"),
    "pulumi:template": _harmless("the template `pulumi new` made the project from"),
}
"""Every key, by its full name, with its kind and what it does."""

UNCLASSIFIED = ProviderKey(
    Kind.UNCLASSIFIED, "it is no setting of the installed provider, so what it would do is unknown"
)
"""Any other key of NAMESPACES."""
NAMESPACES = ("aws", "kubernetes", "random", "pulumi")
"""The config namespaces of the program's providers and of the engine (pulumi_random has no settings)."""


LOOKS_LIKE_OURS = 0.7
"""How alike (difflib's ratio, case folded) a namespace must be to the project's to be taken for a
misspelling of it: one edit of `ai-etl` scores at least 0.83 and two (`aws-etl`) 0.77, while no
provider namespace of the 316 `pulumi-*` packages on PyPI scores even 0.6 (tests/test_fixes.py)."""


def looks_like_ours(namespace: str) -> bool:
    """Whether a config namespace is a misspelling of the project's (`ai_etl`, `aws-etl`,
    `Ai-Etl`) rather than some provider's (`aws`, `kubernetes`, `aws-native`...)."""
    if namespace == PROJECT or namespace in NAMESPACES:
        return False
    return difflib.SequenceMatcher(None, namespace.lower(), PROJECT).ratio() >= LOOKS_LIKE_OURS


STACK_FILE_KEYS = {
    "stack:environment": ProviderKey(
        Kind.REDIRECTS,
        "the stack file imports Pulumi ESC environments, whose values the CLI merges into this "
        "stack's config (aws: keys included) where no review and no offline render sees them",
    ),
    "stack:secretsprovider": ProviderKey(
        Kind.EXPECTED,
        "where the stack's secrets are encrypted and decrypted (a KMS key URL's parameters may name "
        "another endpoint): every change is shown",
    ),
}
"""The stack file's settings besides `config:` that a render records with the provider config
(ai_etl/offline/stackconfig.py STACK_SETTINGS), as the diff notes them."""


def classify(key: str) -> ProviderKey | None:
    """The kind of a config key outside the project's namespace: from the table for NAMESPACES
    (UNCLASSIFIED if the table lacks it); INERT for any other namespace, which no provider of the
    program reads (namespaces match exactly: `AWS:` and `aws` with a Cyrillic `a` are not `aws:`). None for
    the project's own keys and for a misspelling of its namespace (crosschecks moves those)."""
    if key in STACK_FILE_KEYS:
        return STACK_FILE_KEYS[key]
    namespace = key.partition(":")[0]
    if namespace == PROJECT or looks_like_ours(namespace):
        return None
    if namespace not in NAMESPACES:
        return ProviderKey(
            Kind.INERT,
            "no provider of this program reads its namespace (namespaces match exactly: `AWS:` is not "
            "`aws:`), so it would only mislead a reviewer",
        )
    return PROVIDER_KEYS.get(key, UNCLASSIFIED)


def provider_settings(
    problems: Problems,
    elsewhere: Mapping[str, Any],
    grade: Any,
    stack: str,
    from_project: frozenset[str] = frozenset(),
) -> list[str]:
    """At production grade, each key of `elsewhere` (the stack's config outside the project's
    namespace; values are never read) that redirects, reaches nothing or is unclassified is a problem,
    with its reason and how to remove it; below it, each is a warning (returned) saying the same, so
    that it is seen at every preview, as the offline diff shows it first. A key of `from_project`
    comes from Pulumi.yaml's `config:`, which no `pulumi config` command edits."""
    warnings = []
    for key in sorted(elsewhere):
        found = classify(key)
        if found is None or found.kind not in REFUSED_AT_PRODUCTION:
            continue
        reason = found.reason
        if credential_key(key) and elsewhere[key] is not SECRET:
            reason += "; and it is a credential in plain text in the stack file: rotate it"
        named = f"`{key}`" if re.fullmatch(r"[\w.:-]+", key, re.ASCII) else word(key)  # never run if pasted
        if key in STACK_FILE_KEYS:  # no config command removes it
            removal = f"remove `{key.partition(':')[2]}:` from Pulumi.{file_stack(stack)}.yaml by hand"
        elif key in from_project:
            removal = f"remove {named} from the `config:` of Pulumi.yaml"
        else:
            removal = Commands(stack).rm((key,)) or ""
        if grade == PRODUCTION:
            problems.add((key,), f"is refused in a production-grade stack ({GRADE_KEY}): {reason}", removal)
        else:
            warnings.append(
                f"{shown((key,))} is set ({found.kind.value}): {reason}; a production-grade stack "
                f"refuses it. Remove it once it is no longer needed: {removal}"
            )
    return warnings
