"""Runs the real program for a stack under the Pulumi SDK's mock engine, and records what it declares.

The Pulumi CLI is not needed: the SDK's MockMonitor stands in for the engine, and a small table of
provider behaviours (ids, ARNs, version ids, the secret outputs a provider declares) stands in for
the providers. Everything the program registers is kept with the options that matter for safety,
its dependencies and its inputs, secret values wrapped in `Secret` so that nothing can mistake them
for plain text.
"""

from __future__ import annotations

import hashlib
import json
import runpy
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks, rpc
from pulumi.runtime.settings import set_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROJECT = "ai-etl"
MOCK_ACCOUNT = "123456789012"
_SECRET_SIG = rpc._special_sig_key
_SECRET_VALUE = rpc._special_secret_sig


@dataclass(frozen=True)
class Secret:
    """A value the program marked secret; its repr never shows the value."""

    value: Any

    def __repr__(self) -> str:
        return "Secret([redacted])"


@dataclass
class Registration:
    """One resource as the program registered it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    dependencies: list[str]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    replace_on_changes: list[str]
    ignore_changes: list[str]
    additional_secret_outputs: list[str]
    property_dependencies: dict[str, list[str]]
    """For each input, the resources its value came from (as the engine tells policies)."""
    inputs: dict[str, Any]
    """Inputs as sent to the provider; secret values as `Secret`."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """What the mocked provider answered; secret values as `Secret`."""


@dataclass
class Run:
    """Everything one program run declared, in declaration order, and its stack outputs."""

    stack: str
    resources: list[Registration]
    exports: dict[str, Any]
    """Stack outputs; secret ones as `Secret`."""

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name_suffix: str = "") -> Registration:
        found = [r for r in self.of_type(type_token) if r.name.endswith(name_suffix)]
        if len(found) != 1:
            raise LookupError(f"expected one {type_token} named *{name_suffix}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)


def wrap_secrets(value: Any) -> Any:
    """Turn the wire form of secrets (as deserialize_properties leaves them) into `Secret`.

    Whole numbers come back as ints: the wire (a protobuf Struct) knows only doubles, and the
    providers convert them back; Kubernetes' schemas type them `integer`.
    """
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == _SECRET_VALUE:
            return Secret(wrap_secrets(unwrap(value.get("value"))))
        return {k: wrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wrap_secrets(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def unwrap(value: Any) -> Any:
    """The plain value, secrets included (for providers' behaviour and for tests of values)."""
    if isinstance(value, Secret):
        return unwrap(value.value)
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == _SECRET_VALUE:
            return unwrap(value.get("value"))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def secrets_in(value: Any) -> Iterator[Any]:
    """Every secret value inside `value`, unwrapped."""
    if isinstance(value, Secret):
        yield unwrap(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from secrets_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from secrets_in(item)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class ProviderMocks(mocks.Mocks):
    """What each provider answers on create: the camelCase outputs real providers return."""

    def __init__(self, stack: str, region: str) -> None:
        self.stack = stack
        self.region = region

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = args.inputs
        plain = unwrap(inputs)
        state = dict(inputs)
        token = args.typ
        if token == "random:index/randomPassword:RandomPassword":
            # Deterministic per stack, name, length and keepers (a new keeper: a new value), and
            # with the characters that break an unencoded URL, so composing must encode them.
            seed = _digest(self.stack, args.name, plain.get("keepers"), plain.get("length"))
            length = int(plain["length"])
            result = ("@:/#" + seed + seed)[:length]
            state.update(result=result, bcryptHash="$2a$10$" + seed[:53])
            return f"{args.name}-id", state
        if token == "aws:kms/key:Key":
            key_id = str(uuid.UUID(_digest(self.stack, args.name)[:32]))
            state.update(keyId=key_id, arn=f"arn:aws:kms:{self.region}:{MOCK_ACCOUNT}:key/{key_id}")
            return key_id, state
        if token == "aws:kms/alias:Alias":
            state["arn"] = f"arn:aws:kms:{self.region}:{MOCK_ACCOUNT}:{plain['name']}"
            return plain["name"], state
        if token == "aws:secretsmanager/secret:Secret":
            suffix = _digest(plain["name"])[:6]  # AWS appends six random characters
            arn = f"arn:aws:secretsmanager:{self.region}:{MOCK_ACCOUNT}:secret:{plain['name']}-{suffix}"
            state["arn"] = arn
            return arn, state
        if token == "aws:secretsmanager/secretVersion:SecretVersion":
            # Secrets Manager mints a new version id for every new value.
            version_id = str(uuid.UUID(_digest(plain["secretId"], plain.get("secretString"))[:32]))
            state.update(versionId=version_id, arn=plain["secretId"])
            return f"{plain['secretId']}|{version_id}", state
        if token == "aws:iam/role:Role":
            state.update(
                arn=f"arn:aws:iam::{MOCK_ACCOUNT}:role/{plain['name']}",
                uniqueId="AROA" + _digest(args.name)[:17].upper(),
            )
            return plain["name"], state
        if token == "aws:iam/rolePolicy:RolePolicy":
            return f"{plain['role']}:{plain['name']}", state
        if token.startswith("kubernetes:"):
            metadata = plain.get("metadata") or {}
            name = metadata.get("name") or args.name
            namespace = metadata.get("namespace")
            return (f"{namespace}/{name}" if namespace else name), state
        return f"{args.name}-id", state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        raise NotImplementedError(f"the program made an unexpected provider call: {args.token}")


class RecordingMonitor(mocks.MockMonitor):
    """The SDK's MockMonitor, keeping each registration's options and marking declared secret outputs."""

    def __init__(self, provider_mocks: ProviderMocks) -> None:
        super().__init__(provider_mocks)
        self.registrations: list[Registration] = []
        self.stack_outputs: dict[str, Any] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine makes them: a child's type carries its parents' whole type chain
        (the SDK's mock keeps only the last link, and counts the root stack as a parent)."""
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                type_ = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return mocks.resource_pb2.RegisterResourceResponse(urn=urn)
        mocks._ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        registration = Registration(
            type=request.type,
            name=request.name,
            urn=urn,
            parent=request.parent,
            custom=bool(request.custom),
            dependencies=list(request.dependencies),
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            replace_on_changes=list(request.replaceOnChanges),
            ignore_changes=list(request.ignoreChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            inputs=wrap_secrets(inputs),
        )
        if not request.custom:
            self.registrations.append(registration)
            return mocks.resource_pb2.RegisterResourceResponse(urn=urn, id="", object=None)
        resource_id, state = self.mocks.new_resource(
            mocks.MockResourceArgs(
                typ=request.type,
                name=request.name,
                inputs=inputs,
                provider=request.provider,
                resource_id=request.importId,
                custom=True,
            )
        )
        # The engine marks the outputs a provider declares secret; do as it does.
        for key in request.additionalSecretOutputs:
            if key in state:
                state[key] = {_SECRET_SIG: _SECRET_VALUE, "value": unwrap(state[key])}
        registration.outputs = wrap_secrets(state)
        self.registrations.append(registration)
        obj = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, resource_id or "", state)
        return mocks.resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id or "", object=obj)


def load_stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The `config:` of `Pulumi.<stack>.yaml`, as YAML values (what `pulumi config` would show)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}: is '{stack}' a stack of this project?")
    data = yaml.safe_load(path.read_text()) or {}
    return dict(data.get("config") or {})


def engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Config as the engine hands it to a program: strings stay, anything else is JSON text."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def run_program(
    stack: str,
    config: Mapping[str, Any],
    secret_keys: Mapping[str, str] | None = None,
    program: Path = PROJECT_DIR / "__main__.py",
    registrations: list[Registration] | None = None,
) -> Run:
    """Run `program` for `stack` under the mock engine.

    `config` maps full keys (`ai-etl:backend`) to YAML values; `secret_keys` maps full keys to the
    plain value the stack's secrets provider would decrypt (they are marked secret, as the CLI
    marks `secure:` values). Exceptions of the program (a ConfigError, say) propagate; pass a list
    as `registrations` to see what was declared before one.
    """
    secret_keys = dict(secret_keys or {})
    region = str(config.get("aws:region", "us-east-1"))
    provider_mocks = ProviderMocks(stack, region)
    monitor = RecordingMonitor(provider_mocks)
    if registrations is not None:
        monitor.registrations = registrations
    set_root_resource(None)  # type: ignore[arg-type]
    mocks.set_mocks(provider_mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    plain_config = {k: v for k, v in config.items() if not (isinstance(v, dict) and "secure" in v)}
    pulumi.runtime.set_all_config(
        engine_config({**plain_config, **secret_keys}), secret_keys=list(secret_keys)
    )

    # Registrations reach the monitor in the order their inputs resolve, which varies from run to
    # run; a stack transformation sees each resource as the program declares it, in program order.
    declared: dict[tuple[str, str], int] = {}

    def note_declaration(args: pulumi.ResourceTransformationArgs) -> None:
        declared.setdefault((args.type_, args.name), len(declared))

    def body() -> None:
        pulumi.runtime.register_stack_transformation(note_declaration)
        runpy.run_path(str(program), run_name="__main__")

    _sync_await(run_pulumi_func(body))
    monitor.registrations.sort(key=lambda r: declared.get((r.type, r.name), len(declared)))
    root = pulumi.runtime.get_root_resource()
    exports: dict[str, Any] = {}
    for name, value in getattr(root, "outputs", {}).items():
        output = pulumi.Output.from_input(value)
        resolved = _sync_await(output.future())
        exports[name] = Secret(resolved) if _sync_await(output.is_secret()) else resolved
    return Run(stack=stack, resources=monitor.registrations, exports=exports)
