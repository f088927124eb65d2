"""Runs a Pulumi program for a stack under the Pulumi SDK's own mocks, and records what it declares.

No Pulumi CLI is needed. The program gets its config as the language host hands it over
(PULUMI_CONFIG), runs under `pulumi.runtime.test` with `set_mocks`, and the SDK's MockMonitor
registers every resource; this module only extends it: engine-style URNs, the secret outputs a
provider declares, auto-naming, and a record of each registration with its options and inputs.
Secret values are wrapped in `Sensitive`, so nothing can mistake them for plain text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import runpy
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.mocks import MockMonitor

from ai_etl import tokens
from ai_etl.config.fields import aws_regions, dns_suffix
from ai_etl.offline.sdk import is_secret_wire, secret_wire

PROJECT_DIR = Path(__file__).resolve().parents[2]
MOCK_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Sensitive:
    """A value the program marked secret; its repr never shows the value."""

    value: Any

    def __repr__(self) -> str:
        return "Sensitive([redacted])"


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
    custom_timeouts: dict[str, str]
    """create / update / delete timeouts the program set (e.g. {"delete": "5m"})."""
    property_dependencies: dict[str, list[str]]
    """For each input, the resources its value came from (as the engine tells policies)."""
    provider: str = ""
    """The explicit provider's reference (`<urn>::<id>`); empty for the default provider."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """Inputs as sent to the provider; secret values as `Sensitive`."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """What the mocked provider answered; secret values as `Sensitive`."""


@dataclass(frozen=True)
class Call:
    """One provider function call (an invoke) and what it answered."""

    token: str
    args: dict[str, Any]
    result: dict[str, Any]


@dataclass
class Run:
    """Everything one program run declared, in declaration order, and its stack outputs."""

    stack: str
    resources: list[Registration]
    exports: dict[str, Any]
    """Stack outputs; secret ones as `Sensitive`."""
    calls: list[Call] = field(default_factory=list)
    """The provider functions the program called (lookups), in the order it called them."""
    warnings: list[str] = field(default_factory=list)
    """What the program logged as warnings (`pulumi.log.warn`), as `pulumi preview` would show them."""

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name_suffix: str = "") -> Registration:
        found = [r for r in self.of_type(type_token) if r.name.endswith(name_suffix)]
        if len(found) != 1:
            raise LookupError(f"expected one {type_token} named *{name_suffix}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def answer(self, token: str) -> dict[str, Any]:
        """What the one call of the provider function `token` answered."""
        (call,) = [c for c in self.calls if c.token == token]
        return call.result


def wrap_secrets(value: Any) -> Any:
    """Turn the wire form of secrets into `Sensitive`.

    Whole numbers come back as ints: the wire (a protobuf Struct) knows only doubles, and the
    providers convert them back; Kubernetes' schemas type them `integer`.
    """
    if is_secret_wire(value):
        return Sensitive(wrap_secrets(unwrap(value["value"])))
    if isinstance(value, dict):
        return {k: wrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wrap_secrets(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def unwrap(value: Any) -> Any:
    """The plain value, secrets included (for providers' behaviour and for tests of values)."""
    if isinstance(value, Sensitive):
        return unwrap(value.value)
    if is_secret_wire(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def secrets_in(value: Any) -> Iterator[Any]:
    """Every secret value inside `value`, unwrapped."""
    if isinstance(value, Sensitive):
        yield unwrap(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from secrets_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from secrets_in(item)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class ProviderMocks(pulumi.runtime.Mocks):
    """What each provider answers on create: the camelCase outputs real providers return.

    A resource declared without a name gets one as the providers auto-name it: its logical name
    and a random suffix (here a stable one).
    """

    def __init__(
        self,
        stack: str,
        region: str,
        account: str = MOCK_ACCOUNT,
        answers: Mapping[str, Mapping[str, Any] | None] | None = None,
    ) -> None:
        self.stack = stack
        self.region = region
        self.account = account
        self.answers = dict(answers or {})
        """Per function token: fields that replace the made-up answer, or None for "not found"."""

    def autoname(self, logical: str) -> str:
        return f"{logical}-{_digest(self.stack, logical)[:7]}"

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        plain = unwrap(args.inputs)
        state = dict(args.inputs)
        token = args.typ
        if token.startswith("aws:") and "name" not in plain:
            plain["name"] = state["name"] = self.autoname(args.name)
        if token == tokens.RANDOM_PASSWORD:
            # Deterministic per stack, name and keepers, what makes a new password; not per length,
            # which a program may ignore on an existing one (ignoreChanges). It holds the
            # characters that break an unencoded URL, so composing must encode them.
            seed = _digest(self.stack, args.name, plain.get("keepers"))
            result = "@:/#" + seed + seed
            state.update(result=result, bcryptHash="$2a$10$" + seed[:53])
            return f"{args.name}-id", state
        # A resource may name its own region (pulumi-aws 7); else the provider's.
        region = str(plain.get("region") or self.region)
        if token == tokens.KMS_KEY:
            key_id = str(uuid.UUID(_digest(self.stack, args.name)[:32]))
            state.update(
                keyId=key_id, arn=f"arn:{_partition(region)}:kms:{region}:{self.account}:key/{key_id}"
            )
            return key_id, state
        if token == tokens.KMS_ALIAS:
            state["arn"] = f"arn:{_partition(region)}:kms:{region}:{self.account}:{plain['name']}"
            return plain["name"], state
        if token == tokens.SM_SECRET:
            suffix = _digest(plain["name"])[:6]  # AWS appends six random characters
            arn = f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{plain['name']}-{suffix}"
            state["arn"] = arn
            return arn, state
        if token == tokens.SM_VERSION:
            # Secrets Manager mints a new version id for every new value.
            version_id = str(uuid.UUID(_digest(plain["secretId"], plain.get("secretString"))[:32]))
            state.update(versionId=version_id, arn=plain["secretId"])
            return f"{plain['secretId']}|{version_id}", state
        if token == tokens.SNS_TOPIC:
            state["arn"] = f"arn:{_partition(region)}:sns:{region}:{self.account}:{plain['name']}"
            return state["arn"], state
        if token == tokens.EVENT_RULE:
            state["arn"] = f"arn:{_partition(region)}:events:{region}:{self.account}:rule/{plain['name']}"
            return plain["name"], state
        if token == tokens.IAM_ROLE:
            state.update(
                arn=f"arn:aws:iam::{self.account}:role/{plain['name']}",
                uniqueId="AROA" + _digest(args.name)[:17].upper(),
            )
            return plain["name"], state
        if token == tokens.IAM_ROLE_POLICY:
            return f"{plain['role']}:{plain['name']}", state
        if token.startswith("kubernetes:"):
            metadata = dict(plain.get("metadata") or {})
            if not metadata.get("name"):
                metadata["name"] = self.autoname(args.name)
                state["metadata"] = {**(state.get("metadata") or {}), "name": metadata["name"]}
            namespace = metadata.get("namespace")
            return (f"{namespace}/{metadata['name']}" if namespace else metadata["name"]), state
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        if args.token in self.answers and self.answers[args.token] is None:
            # As a provider reports a failed lookup: the SDK raises "invoke of <token> failed".
            return {}, [("", "couldn't find resource (offline answer)")]
        return {**self.made_up(args), **(self.answers.get(args.token) or {})}, []

    def made_up(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        """What the function would answer for a healthy account: a cluster on a current Kubernetes
        with every control plane log on, and its IAM OIDC provider."""
        plain = unwrap(args.args)
        if args.token == tokens.GET_CALLER_IDENTITY:
            arn = f"arn:aws:sts::{self.account}:assumed-role/offline/offline"
            return {"accountId": self.account, "arn": arn, "id": self.account, "userId": "AROAOFFLINE"}
        if args.token == tokens.GET_EKS_CLUSTER:
            name, dns = plain["name"], dns_suffix(_partition(self.region))
            cluster_id = _digest(self.stack, self.account, name)[:32].upper()
            return {
                "name": name,
                "id": name,
                "arn": f"arn:{_partition(self.region)}:eks:{self.region}:{self.account}:cluster/{name}",
                "version": "1.33",
                "endpoint": f"https://{cluster_id}.gr7.{self.region}.eks.{dns}",
                "certificateAuthorities": [{"data": "T0ZGTElORS1DQQ=="}],  # base64("OFFLINE-CA")
                "identities": [
                    {"oidcs": [{"issuer": f"https://oidc.eks.{self.region}.{dns}/id/{cluster_id}"}]}
                ],
                "enabledClusterLogTypes": ["api", "audit", "authenticator"],
                "status": "ACTIVE",
            }
        if args.token == tokens.GET_OIDC_PROVIDER:
            issuer = str(plain["url"]).removeprefix("https://")
            arn = f"arn:{_partition(self.region)}:iam::{self.account}:oidc-provider/{issuer}"
            return {"arn": arn, "id": arn, "url": issuer, "clientIdLists": ["sts.amazonaws.com"]}
        raise NotImplementedError(f"the program made a provider call offline cannot answer: {args.token}")


def _partition(region: str) -> str:
    return aws_regions().get(region, "aws")


class RecordingMonitor(MockMonitor):
    """The SDK's MockMonitor, recording each registration; URNs and secret outputs as the engine
    makes them."""

    def __init__(self, provider_mocks: ProviderMocks) -> None:
        super().__init__(_Recorder(self, provider_mocks))
        self.registrations: list[Registration] = []
        self.calls: list[Call] = []
        self._current = threading.local()  # the request being registered, per SDK worker thread

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """A child's type carries its parents' whole type chain (the SDK's mock keeps only the last
        link, and counts the root stack as a parent)."""
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != tokens.STACK:
                type_ = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if request.type == tokens.STACK:
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

    def __init__(self, monitor: RecordingMonitor, provider_mocks: ProviderMocks) -> None:
        self.monitor = monitor
        self.provider_mocks = provider_mocks

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        resource_id, state = self.provider_mocks.new_resource(args)
        return resource_id, self.monitor.record(args, state)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        result, failures = self.provider_mocks.call(args)
        self.monitor.calls.append(Call(args.token, unwrap(dict(args.args)), result))
        return result, failures


class _Collect(logging.Handler):
    """Keeps the message of every record of WARNING or above."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage())


class _StackFileLoader(yaml.SafeLoader):
    """YAML as the Pulumi CLI reads a stack file (Go's yaml.v3): `2026-12-01` stays text, and only
    `true`/`false` are booleans (YAML 1.1's yes/no/on/off are strings)."""


_StackFileLoader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StackFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_project(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """`Pulumi.yaml`: the project's name, runtime and config declarations."""
    path = project_dir / "Pulumi.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no Pulumi.yaml in {project_dir}: is it a Pulumi project?")
    return dict(yaml.load(path.read_text(), Loader=_StackFileLoader) or {})


def load_stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The `config:` of `Pulumi.<stack>.yaml`, as YAML values (what `pulumi config` would show)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}: is '{stack}' a stack of this project?")
    data = yaml.load(path.read_text(), Loader=_StackFileLoader) or {}
    return dict(data.get("config") or {})


class StackConfigError(Exception):
    """The stack's config fails what the Pulumi CLI checks before the program runs; the message
    is the CLI's own."""


def _cli_list(keys: list[str]) -> str:
    """Keys as the CLI lists them: 'a', 'a' and 'b', 'a', 'b' and 'c'."""
    quoted = [f"'{k}'" for k in sorted(keys)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _cli_type_ok(type_name: str, value: Any) -> bool:
    """pulumi/pulumi sdk/go/common/workspace/project.go ValidateConfigValue, for scalars: the CLI
    sees a scalar stack value as its text."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if type_name == "integer":
        return bool(re.fullmatch(r"[+-]?\d+", text))
    if type_name == "boolean":
        return text in ("true", "false")
    return type_name == "string"


def apply_project_config(
    stack: str, project: Mapping[str, Any], config: Mapping[str, Any], secret_keys: Mapping[str, str]
) -> dict[str, Any]:
    """What the CLI does with Pulumi.yaml's `config:` before the program runs: stop on keys the
    project declares without a default that the stack lacks, on a `secret: true` key set in plain
    text, or on a value of the wrong type; then add the declared defaults (pulumi/pulumi
    sdk/go/common/workspace/config.go mergeConfig and validateStackConfigValues)."""
    name = str(project.get("name"))
    declared = {
        (key if ":" in key else f"{name}:{key}"): spec
        for key, spec in (project.get("config") or {}).items()
        if isinstance(spec, dict)
    }
    merged = dict(config)
    missing = []
    for key in sorted(declared):
        spec = declared[key]
        if key in merged or key in secret_keys:
            continue
        if "default" in spec or "value" in spec:
            merged[key] = spec.get("default", spec.get("value"))
        elif key.startswith(f"{name}:"):
            missing.append(key.split(":", 1)[1])
    if missing:
        values = "values" if len(missing) > 1 else "value"
        raise StackConfigError(f"Stack '{stack}' is missing configuration {values} {_cli_list(missing)}")
    for key in sorted(declared):
        spec, short = declared[key], key.split(":", 1)[1] if key.startswith(f"{name}:") else key
        if "type" not in spec or (key not in merged and key not in secret_keys):
            continue
        if spec.get("secret") and key not in secret_keys:
            raise StackConfigError(
                f"Stack '{stack}' with configuration key '{short}' must be encrypted as it's secret"
            )
        value = secret_keys[key] if key in secret_keys else merged[key]
        if not isinstance(value, dict | list) and not _cli_type_ok(spec["type"], value):
            raise StackConfigError(
                f"Stack '{stack}' with configuration key '{short}' must be of type '{spec['type']}'"
            )
    return merged


def engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Config as the engine hands it to a program: strings stay, anything else is JSON text."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def run_program(
    stack: str,
    config: Mapping[str, Any],
    secret_keys: Mapping[str, str] | None = None,
    program: Path = PROJECT_DIR / "__main__.py",
    registrations: list[Registration] | None = None,
    project: str | Mapping[str, Any] = "ai-etl",
    answers: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> Run:
    """Run `program` for `stack` under the SDK's mocks.

    `config` maps full keys (`ai-etl:backend`) to YAML values; `secret_keys` maps full keys to the
    plain value the stack's secrets provider would decrypt (they are marked secret, as the CLI
    marks `secure:` values). Exceptions of the program (a ConfigError, say) propagate; pass a list
    as `registrations` to see what was declared before one. `project` is the project's name, or
    its whole Pulumi.yaml, whose config declarations are then checked and applied as the CLI does
    (StackConfigError). `answers` replaces fields of what provider functions answer, by token
    (None: "not found"), e.g. an older cluster for `aws:eks/getCluster:getCluster`.
    """
    secret_keys = dict(secret_keys or {})
    if isinstance(project, Mapping):
        config = apply_project_config(stack, project, config, secret_keys)
        project = str(project["name"])
    # The credentials' account: the first the AWS provider is allowed to use, if the stack says.
    allowed = config.get("aws:allowedAccountIds")
    account = str(allowed[0]) if isinstance(allowed, list) and allowed else MOCK_ACCOUNT
    provider_mocks = ProviderMocks(stack, str(config.get("aws:region", "us-east-1")), account, answers)
    monitor = RecordingMonitor(provider_mocks)
    if registrations is not None:
        monitor.registrations = registrations
    plain = {k: v for k, v in config.items() if not (isinstance(v, dict) and "secure" in v)}
    # As the language host does (pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec): the
    # config in PULUMI_CONFIG, its secret keys in PULUMI_CONFIG_SECRET_KEYS, then set_all_config.
    handed = {
        "PULUMI_CONFIG": json.dumps(engine_config({**plain, **secret_keys})),
        "PULUMI_CONFIG_SECRET_KEYS": json.dumps(sorted(secret_keys)),
    }
    saved = {name: os.environ.get(name) for name in handed}
    os.environ.update(handed)
    declared: dict[tuple[str, str], int] = {}
    exports: dict[str, Any] = {}
    # The program's log, as the engine would show it: warnings (and errors) kept for the Run.
    warnings: list[str] = []
    logger = logging.getLogger(f"ai_etl.offline.program.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(_Collect(warnings))

    def note_declaration(args: pulumi.ResourceTransformationArgs) -> None:
        declared.setdefault((args.type_, args.name), len(declared))

    async def collect_exports() -> None:
        root = pulumi.runtime.get_root_resource()
        for name, value in getattr(root, "outputs", {}).items():
            output = pulumi.Output.from_input(value)
            resolved = await output.future()
            exports[name] = Sensitive(resolved) if await output.is_secret() else resolved

    @pulumi.runtime.test
    def body() -> Any:
        pulumi.runtime.register_stack_transformation(note_declaration)
        runpy.run_path(str(program), run_name="__main__")
        return collect_exports()

    try:
        pulumi.runtime.reset_options(project=project, stack=stack, preview=False)
        pulumi.runtime.set_all_config(
            pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env()
        )
        pulumi.runtime.set_mocks(
            provider_mocks, project=project, stack=stack, preview=False, monitor=monitor, logger=logger
        )
        body()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    # Registrations reach the monitor in the order their inputs resolve, which varies from run to
    # run; the stack transformation saw each resource as the program declared it, in program order.
    monitor.registrations.sort(key=lambda r: declared.get((r.type, r.name), len(declared)))
    return Run(
        stack=stack, resources=monitor.registrations, exports=exports, calls=monitor.calls, warnings=warnings
    )
