"""Labels and tags shared by every object of an environment, so reports and selectors group them."""

from __future__ import annotations

from collections.abc import Mapping

from ai_etl.grade import GRADE_LABEL, GRADE_TAG
from ai_etl.names import ENVIRONMENT_LABEL


def environment_labels(project: str, environment: str, grade: str) -> dict[str, str]:
    """Recommended Kubernetes labels (app.kubernetes.io/*) plus the environment and its grade."""
    return {
        "app.kubernetes.io/part-of": project,
        "app.kubernetes.io/managed-by": "pulumi",
        ENVIRONMENT_LABEL: environment,
        GRADE_LABEL: grade,
    }


def with_component(labels: Mapping[str, str], component: str) -> dict[str, str]:
    """`labels` plus `app.kubernetes.io/component`: which part of the environment an object is."""
    return {**labels, "app.kubernetes.io/component": component}


def aws_tags(project: str, environment: str, grade: str) -> dict[str, str]:
    """Tags of every AWS resource, so cost and audit reports (and the guardrails) group them."""
    return {"Project": project, "Environment": environment, GRADE_TAG: grade, "ManagedBy": "pulumi"}
