"""Checks of where the stack deploys that need the cloud: they run on every preview and update, after
the settings and before anything is declared."""

from __future__ import annotations

import pulumi_aws as aws

from ai_etl.problems import ConfigError
from ai_etl.settings import Settings


def check_account(settings: Settings) -> None:
    """The cluster's OIDC provider must be in the account the stack deploys to: STS looks the
    provider up in the account of the role being assumed, so a provider of another account passes
    every schema and fails only when the operator first authenticates."""
    caller = aws.get_caller_identity().account_id
    if caller != settings.oidc_account:
        issuer = settings.oidc_issuer
        raise ConfigError(
            f"wrong AWS account for stack '{settings.stack}' (nothing was declared):\n"
            f"  - oidcProviderArn: is in account {settings.oidc_account}, but these credentials deploy to "
            f"account {caller}; the operator's role (in {caller}) could never trust it\n"
            f"      fix: deploy with credentials for account {settings.oidc_account}, or, if the cluster's "
            f"provider really is in {caller}: pulumi config set oidcProviderArn "
            f"arn:{settings.partition}:iam::{caller}:oidc-provider/{issuer} --stack {settings.stack}"
        )
