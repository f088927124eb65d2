"""One environment of the platform: settings in, every component wired, stack outputs out.

Data flow: Settings -> GeneratedSecrets (+ composed URLs, + provided config) -> SecretsManager
-> OperatorAccess (IRSA) -> ExternalSecrets -> BackendIdentity (RBAC) -> Backend (Deployment).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.backend import Backend, BackendArgs
from components.catalogue import backend_secrets
from components.external_secrets import ExternalSecrets, ExternalSecretsArgs
from components.labels import aws_tags
from components.namespace import Namespace, NamespaceArgs
from components.operator_access import OperatorAccess, OperatorAccessArgs
from components.passwords import GeneratedSecrets, GeneratedSecretsArgs, composed_values
from components.rbac import BackendIdentity, BackendIdentityArgs
from components.secrets_manager import SecretsManager, SecretsManagerArgs
from components.settings import Settings

OPERATOR_SERVICE_ACCOUNT = "ai-etl-secret-store"
BACKEND_SERVICE_ACCOUNT = "ai-etl-backend"


@dataclass(frozen=True)
class EnvironmentArgs:
    settings: Settings


class Environment(pulumi.ComponentResource):
    """Everything one stack declares: namespace, secrets, their sync, RBAC and the backend."""

    namespace: pulumi.Output[str]
    """The environment's namespace."""
    secret_name: pulumi.Output[str]
    """The Kubernetes Secret of the current generation of values."""
    secret_arns: dict[str, pulumi.Output[str]]
    """Secrets Manager ARN by catalogue key."""
    operator_role_arn: pulumi.Output[str]
    """IAM role the External Secrets Operator assumes."""
    kms_key_arn: pulumi.Output[str]
    """The environment's KMS key."""

    def __init__(self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-etl:environment:Environment", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)

        namespace = Namespace(f"{name}-namespace", NamespaceArgs(s.namespace, s.stack), child)

        generated = GeneratedSecrets(
            f"{name}-generated",
            GeneratedSecretsArgs(
                catalogue=s.catalogue,
                length=s.password_length,
                rotation=s.rotation_values,
            ),
            child,
        )
        values = {
            **generated.values,
            **composed_values(s.catalogue, s.connections, generated.values),
            **s.provided,
        }

        store = SecretsManager(
            f"{name}-secrets",
            SecretsManagerArgs(
                prefix=s.prefix,
                names={spec.key: s.secret_name(spec.key) for spec in s.catalogue},
                catalogue=s.catalogue,
                values=values,
                recovery_window_in_days=s.recovery_window_in_days,
                protect=s.protect,
                tags=aws_tags(s.stack),
            ),
            child,
        )

        synced = backend_secrets(s.catalogue)
        access = OperatorAccess(
            f"{name}-operator",
            OperatorAccessArgs(
                namespace=namespace.name,
                service_account=OPERATOR_SERVICE_ACCOUNT,
                role_name=f"{s.prefix}-secret-store",
                oidc_provider_arn=s.oidc_provider_arn,
                oidc_issuer=s.oidc_issuer,
                secret_arns={spec.key: store.secret_arns[spec.key] for spec in synced},
                kms_key_arn=store.kms_key_arn,
                region=s.region,
                stack=s.stack,
                tags=aws_tags(s.stack),
            ),
            child,
        )

        external = ExternalSecrets(
            f"{name}-sync",
            ExternalSecretsArgs(
                namespace=namespace.name,
                region=s.region,
                service_account=access.service_account,
                remote_names={spec.key: s.secret_name(spec.key) for spec in synced},
                version_ids={spec.key: store.version_ids[spec.key] for spec in synced},
                stack=s.stack,
            ),
            child,
        )

        identity = BackendIdentity(
            f"{name}-identity",
            BackendIdentityArgs(
                namespace=namespace.name,
                service_account=BACKEND_SERVICE_ACCOUNT,
                secret_name=external.secret_name,
                stack=s.stack,
            ),
            child,
        )

        Backend(
            f"{name}-backend",
            BackendArgs(
                namespace=namespace.name,
                stack=s.stack,
                backend=s.backend,
                egress_ports=[int(c["port"]) for c in s.connections.values()],
                catalogue=s.catalogue,
                qwen_api_base=s.qwen_api_base,
                service_account=identity.service_account,
                secret_name=external.secret_name,
            ),
            child,
        )

        self.namespace = namespace.name
        self.secret_name = external.secret_name
        self.secret_arns = store.secret_arns
        self.operator_role_arn = access.role_arn
        self.kms_key_arn = store.kms_key_arn
        self.register_outputs(
            {
                "namespace": self.namespace,
                "secret_name": self.secret_name,
                "secret_arns": self.secret_arns,
                "operator_role_arn": self.operator_role_arn,
                "kms_key_arn": self.kms_key_arn,
            }
        )
