"""The resource monitor a program registers with offline: the Pulumi SDK's own MockMonitor, extended
to record each registration with its options and inputs, and to make URNs and secret outputs as
the engine makes them.
"""

from __future__ import annotations

import threading
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

from ai_etl.offline.providers import STACK
from ai_etl.offline.records import Call, Registration, unwrap, wrap_secrets
from ai_etl.offline.sdk import secret_wire


class RecordingMonitor(MockMonitor):
    """The SDK's MockMonitor, recording each registration; URNs and secret outputs as the engine
    makes them."""

    def __init__(self, provider_mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(_Recorder(self, provider_mocks))
        self.registrations: list[Registration] = []
        self.calls: list[Call] = []
        self._current = threading.local()  # the request being registered, per SDK worker thread

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """A child's type carries its parents' whole type chain (the SDK's mock keeps only the last
        link, and counts the root stack as a parent)."""
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != STACK:
                type_ = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if request.type == STACK:
            return super().RegisterResource(request)
        self._current.request = request
        self._current.registration = None
        response = super().RegisterResource(request)
        registration: Registration = self._current.registration
        if request.custom:
            registration.outputs = wrap_secrets(self.resources[response.urn].state)
        self.registrations.append(registration)
        return response

    def record(self, args: pulumi.runtime.MockResourceArgs, state: dict) -> dict:
        """Note the registration under way; the engine marks the outputs a provider declares secret."""
        request = self._current.request
        self._current.registration = Registration(
            type=request.type,
            name=request.name,
            urn=self.make_urn(request.parent, request.type, request.name),
            parent=request.parent,
            custom=bool(request.custom),
            dependencies=list(request.dependencies),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            replace_on_changes=list(request.replaceOnChanges),
            ignore_changes=list(request.ignoreChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            custom_timeouts={
                op: value
                for op in ("create", "update", "delete")
                if (value := getattr(request.customTimeouts, op, ""))
            },
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            provider=str(request.provider),
            inputs=wrap_secrets(args.inputs),
        )
        secret = set(request.additionalSecretOutputs)
        return {k: secret_wire(unwrap(v)) if k in secret else v for k, v in state.items()}


class _Recorder(pulumi.runtime.Mocks):
    """The mocks the monitor calls: the provider's answer, recorded."""

    def __init__(self, monitor: RecordingMonitor, provider_mocks: pulumi.runtime.Mocks) -> None:
        self.monitor = monitor
        self.provider_mocks = provider_mocks

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        resource_id, state = self.provider_mocks.new_resource(args)
        return resource_id, self.monitor.record(args, state)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        result, failures = self.provider_mocks.call(args)
        self.monitor.calls.append(Call(args.token, unwrap(dict(args.args)), result))
        return result, failures
