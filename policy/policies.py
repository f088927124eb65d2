"""The guardrails (ai_etl/guardrails/rules.py) wrapped as Pulumi policies; the rules live there, once."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from ai_etl.guardrails.rules import RULES, ResourceRule, Rule, StackRule, Subject

PACK_NAME = "ai-etl-guardrails"


def subject_of(r: ResourceValidationArgs | PolicyResource, dependencies: bool = False) -> Subject:
    """A resource as the rules take it, from what the engine hands the policy."""
    return Subject(
        type=r.resource_type,
        name=r.name,
        urn=r.urn,
        props=r.props,
        protect=bool(r.opts.protect),
        dependencies=tuple(d.urn for d in r.dependencies) if dependencies else (),  # type: ignore[union-attr]
        property_dependencies={k: tuple(d.urn for d in v) for k, v in r.property_dependencies.items()}  # type: ignore[union-attr]
        if dependencies
        else {},
    )


def _level(rule: Rule) -> EnforcementLevel:
    return EnforcementLevel.ADVISORY if rule.advisory else EnforcementLevel.MANDATORY


def _resource_policy(rule: ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if rule.applies_to(args.resource_type):
            for message in rule.check(subject_of(args)):
                report_violation(message, args.urn)

    return ResourceValidationPolicy(rule.name, rule.description, validate, _level(rule))


def _stack_policy(rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        subjects = [subject_of(r, dependencies=True) for r in args.resources]
        for urn, message in rule.check(subjects):
            report_violation(message, urn)

    return StackValidationPolicy(rule.name, rule.description, validate, _level(rule))


POLICIES = [_stack_policy(rule) if isinstance(rule, StackRule) else _resource_policy(rule) for rule in RULES]
