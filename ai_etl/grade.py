"""A stack's grade (`ai-etl:grade`), in one place: where resources carry it, and what each grade asks.

The program enforces these at config time (ai_etl/config) and the guardrails check the declared
resources against the same numbers (ai_etl/guardrails): both import them from here.
"""

from __future__ import annotations

from ai_etl.names import PROJECT

STANDARD = "standard"
PRODUCTION = "production"
GRADES = (STANDARD, PRODUCTION)

GRADE_KEY = f"{PROJECT}:grade"
"""The stack config key that states a stack's grade (unstated: standard)."""
GRADE_TAG = "Grade"
"""The AWS tag stating a resource's grade."""
GRADE_LABEL = "ai-etl.io/grade"
"""The Kubernetes label stating an object's grade."""

RECOVERY_WINDOW_DAYS = (7, 30)
"""DeleteSecret's RecoveryWindowInDays range (and KMS's PendingWindowInDays): AWS API reference."""
RECOVERY_WINDOW_FOR = {STANDARD: 7, PRODUCTION: 30}
"""The least recovery window each grade accepts."""
MIN_PASSWORD_LENGTH = 32
"""The guide: "Minimum 32 characters, cryptographically random"."""
MAX_PASSWORD_LENGTH = 256
ROTATE_EVERY_DAYS = 90
"""The guide: "Change secrets every 90 days"."""


def recovery_window_for(grade: str | None) -> int:
    """The least recovery window, in days, of a stack of `grade` (standard when it states none)."""
    return RECOVERY_WINDOW_FOR.get(grade or STANDARD, RECOVERY_WINDOW_FOR[STANDARD])


ADMISSION_ACTIONS = {STANDARD: ("Warn", "Audit"), PRODUCTION: ("Deny",)}
"""What the namespace's admission policy does with a request it refuses (a binding's
`validationActions`, kubernetes/kubernetes staging/src/k8s.io/api/admissionregistration/v1/types.go,
ValidationAction): a production-grade stack denies it; the others let it through with a warning to
the client and an annotation in the audit log, so a mistake shows before production grade bites."""


def admission_actions(grade: str | None) -> tuple[str, ...]:
    """The validation actions of a stack of `grade` (standard when it states none)."""
    return ADMISSION_ACTIONS.get(grade or STANDARD, ADMISSION_ACTIONS[STANDARD])
