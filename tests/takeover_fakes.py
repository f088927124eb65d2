"""`kubectl`, `aws` and `pulumi` as executables on PATH, for running the takeover script as printed.

Each is a small client that hands its arguments (and, where the real tool reads it, its standard
input) to the test's own process, which plays the tool: a cluster holding the guide's objects, an
`aws eks update-kubeconfig` that writes a kubeconfig for one cluster, and a Pulumi CLI whose config
store applies `config set` as the CLI stores it and whose `preview` and `up` run the real program
offline (ai_etl/offline). Every call is checked as it comes: kubectl must name the kubeconfig that
`aws` wrote for the stack's cluster and its context, pulumi must name the stack, and `up` fails as
the provider would when its options do not let it adopt the objects that exist.

`aws elasticache ...` goes to the real AWS CLI (the tools' environment), talking to moto's server
(tests/conftest.py): the CLI parses the arguments, checks the parameters against botocore's
ElastiCache model, applies `--query` and `--output text`, runs the waiter, and exits as it would.
moto (getmoto/moto moto/elasticache/responses.py) implements DescribeReplicationGroups and
ModifyReplicationGroup, but its modify ignores UserGroupIdsToAdd and AuthTokenUpdateStrategy
(moto/elasticache/models.py, modify_replication_group): what the API says of those two (botocore's
elasticache model, ModifyReplicationGroupMessage) is checked here, before the call goes on.
"""

from __future__ import annotations

import base64
import json
import selectors
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ai_etl.offline.records import Run, unwrap
from ai_etl.tokens import CACHE_USER_GROUP, K8S_PROVIDER, SM_SECRET, SM_VERSION
from tests.fakes import shim
from tests.helpers import aws_client, run_cli, run_config, workload_manifest
from tests.tools import tool

CLIENT = """import json, os, socket, sys
tool, argv = sys.argv[1], sys.argv[2:]
words = [w for i, w in enumerate(argv) if not w.startswith("--") and (i == 0 or argv[i - 1] != "--stack")]
# Only `pulumi config set KEY` without a value reads standard input: all of a pipe (`--raw`, as the
# script pipes values), or, where the real CLI would prompt on the terminal, one line of the
# script's own input, which stands in for the terminal (read a byte at a time, to leave the rest).
reads = tool == "pulumi" and argv[:2] == ["config", "set"] and len(words) == 3
stdin = b""
if reads and "--raw" in argv:
    stdin = sys.stdin.buffer.read()
elif reads:
    while (byte := os.read(0, 1)) not in (b"", b"\\n"):
        stdin += byte
with socket.socket(socket.AF_UNIX) as s:
    s.connect(os.environ["FAKES_SOCKET"])
    s.sendall(json.dumps({"tool": tool, "argv": argv, "stdin": stdin.hex()}).encode())
    s.shutdown(socket.SHUT_WR)
    answer = json.loads(b"".join(iter(lambda: s.recv(65536), b"")))
sys.stdout.buffer.write(bytes.fromhex(answer["stdout"]))
sys.stderr.write(answer["stderr"])
sys.exit(answer["code"])
"""


class RefusedError(Exception):
    """What a real tool would say before exiting non-zero."""


@dataclass
class ExitedError(Exception):
    """A real tool's answer as it ran: its output and exit status."""

    stdout: str
    stderr: str
    code: int


@dataclass
class Call:
    tool: str
    argv: list[str]
    stdin: bytes


@dataclass
class Cluster:
    """The stack's cluster as the guide left it: the hand-made Secret and Deployment."""

    name: str
    region: str
    namespace: str
    hand_made: dict[str, bytes]
    """The guide's Secret `ai-etl-secrets`, by key, as made with --from-literal or --from-env-file."""
    secrets: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    deployments: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    """Each Deployment's labels, by namespace and name."""
    replicasets: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[list[str]] = field(default_factory=list)


@dataclass
class Fakes:
    """The tools' state and the log of every call, for one run of the script."""

    stack: str
    cluster: Cluster
    config: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    stored: list[tuple[list[str], bytes]] = field(default_factory=list)
    """Each `pulumi config set --raw` (a value piped in): its arguments, and the value stored."""
    prompted: list[tuple[list[str], bytes]] = field(default_factory=list)
    """Each `pulumi config set` that took its value at the prompt (here: a line of the script's input)."""
    kubeconfig: Path | None = None
    previewed: bool = False
    run: Run | None = None
    emulator: dict[str, str] | None = None
    """The environment in which the AWS CLI talks to moto (the `aws` fixture): `aws elasticache`."""
    attached: list[str] = field(default_factory=list)
    """The user groups a ModifyReplicationGroup added (moto does not keep them)."""

    def __post_init__(self) -> None:
        c = self.cluster
        c.secrets[(c.namespace, "ai-etl-secrets")] = dict(c.hand_made)
        c.deployments[(c.namespace, "ai-etl-backend")] = {"app": "ai-etl-backend"}  # the guide's
        c.replicasets.append({"metadata": {"name": "ai-etl-backend-5d9f7c6b8", "namespace": c.namespace}})

    # kubectl ---------------------------------------------------------------------------------------

    def kubectl(self, argv: list[str]) -> str:
        if argv[:1] != ["--kubeconfig"] or self.kubeconfig is None or Path(argv[1]) != self.kubeconfig:
            raise RefusedError(f"kubectl without the script's kubeconfig {self.kubeconfig}: {argv}")
        config = yaml.safe_load(self.kubeconfig.read_text())
        contexts = {c["name"]: c["context"]["cluster"] for c in config["contexts"]}
        if argv[2] != "--context" or contexts.get(argv[3]) != self._arn():
            raise RefusedError(f"kubectl without the stack's context: {argv}")
        verb, rest = argv[4], argv[5:]
        ns = rest[rest.index("-n") + 1] if "-n" in rest else None
        if verb == "get" and rest[:1] == ["secret"] and rest[2:] == ["-n", str(ns), "-o", "json"]:
            data = self.cluster.secrets.get((str(ns), rest[1]))
            if data is None:
                raise RefusedError(f'Error from server (NotFound): secrets "{rest[1]}" not found')
            return json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": rest[1], "namespace": ns},
                    "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
                },
                indent=4,
            )
        if (
            verb == "get"
            and rest[:1] == ["deployment"]
            and rest[2:] == ["-n", str(ns), "--ignore-not-found", "-o", "json"]
        ):
            labels = self.cluster.deployments.get((str(ns), rest[1]))
            return (
                "" if labels is None else json.dumps({"kind": "Deployment", "metadata": {"labels": labels}})
            )
        if verb == "get" and rest == ["replicaset", "-n", str(ns), "-o", "json"]:
            items = [r for r in self.cluster.replicasets if r["metadata"]["namespace"] == ns]
            return json.dumps({"kind": "List", "items": items})
        if verb == "rollout" and rest[:2] == ["status", "deployment"]:
            if (str(ns), rest[2]) not in self.cluster.deployments:
                raise RefusedError(f'Error from server (NotFound): deployments.apps "{rest[2]}" not found')
            return f'deployment "{rest[2]}" successfully rolled out\n'
        if verb == "delete":
            self.cluster.deleted.append(rest)
            kind, name = rest[0], rest[1]
            if kind == "deployment":
                assert "--cascade=orphan" in rest, "the old pods keep serving"
                self.cluster.deployments.pop((str(ns), name), None)
            elif kind == "replicaset":
                assert "--cascade=foreground" in rest, "its pods are gone before the script goes on"
                self.cluster.replicasets = [
                    r
                    for r in self.cluster.replicasets
                    if (r["metadata"]["namespace"], r["metadata"]["name"]) != (str(ns), name)
                ]
            elif kind == "secret":
                self.cluster.secrets.pop((str(ns), name), None)
            return ""
        raise RefusedError(f"unexpected: kubectl {shlex.join(argv)}")

    # aws -------------------------------------------------------------------------------------------

    def _arn(self) -> str:
        return f"arn:aws:eks:{self.cluster.region}:111111111111:cluster/{self.cluster.name}"

    def aws(self, argv: list[str]) -> str:
        if argv[:1] == ["elasticache"] and self.emulator is not None:
            return self.elasticache(argv)
        options = dict(zip(argv[2::2], argv[3::2], strict=False))
        if argv[:2] != ["eks", "update-kubeconfig"] or len(argv) % 2:
            raise RefusedError(f"unexpected: aws {shlex.join(argv)}")
        if options.get("--name") != self.cluster.name or options.get("--region") != self.cluster.region:
            raise RefusedError(
                f"No cluster found for name: {options.get('--name')} in {options.get('--region')}"
            )
        self.kubeconfig = Path(options["--kubeconfig"])
        context = options.get("--alias", self._arn())
        self.kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": self._arn(), "cluster": {"server": "https://example.invalid"}}],
                    "contexts": [{"name": context, "context": {"cluster": self._arn(), "user": self._arn()}}],
                    "current-context": context,
                    "users": [{"name": self._arn(), "user": {}}],
                }
            )
        )
        return f"Added new context {context} to {self.kubeconfig}\n"

    def elasticache(self, argv: list[str]) -> str:
        """The real AWS CLI against moto, after the checks moto leaves out of ModifyReplicationGroup:
        the user group added is the one the program declared (UserGroupNotFound otherwise), and
        AuthTokenUpdateStrategy DELETE is "allowed only when transitioning to RBAC" (botocore's
        model, AuthTokenUpdateStrategy): with a user group added, on a cache that has a token."""
        assert self.emulator is not None
        if argv[1] == "modify-replication-group":
            options = {w: argv[i + 1] for i, w in enumerate(argv[:-1]) if w.startswith("--")}
            group = options.get("--user-group-ids-to-add")
            ours = (
                {r.inputs["userGroupId"] for r in self.run.of_type(CACHE_USER_GROUP)} if self.run else set()
            )
            if group is not None and group not in ours:
                raise RefusedError(f"An error occurred (UserGroupNotFound): User group {group} not found.")
            if options.get("--auth-token-update-strategy") == "DELETE":
                token = self._cache(options["--replication-group-id"], options["--region"])[
                    "AuthTokenEnabled"
                ]
                if group is None or not token:
                    raise RefusedError(
                        "An error occurred (InvalidParameterCombination): DELETE is allowed only when "
                        "transitioning to RBAC"
                    )
        done = subprocess.run(
            [str(tool("aws")), *argv], env=self.emulator, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise ExitedError(done.stdout, done.stderr, done.returncode)
        if argv[1] == "modify-replication-group" and "--user-group-ids-to-add" in argv:
            self.attached.append(argv[argv.index("--user-group-ids-to-add") + 1])
        return done.stdout

    def _cache(self, group: str, region: str) -> dict[str, Any]:
        assert self.emulator is not None
        client = aws_client(self.emulator, "elasticache", region)
        return dict(client.describe_replication_groups(ReplicationGroupId=group)["ReplicationGroups"][0])

    # pulumi ----------------------------------------------------------------------------------------

    def pulumi(self, argv: list[str], stdin: bytes) -> str:
        if argv.count("--stack") != 1 or argv[argv.index("--stack") + 1 :][:1] != [self.stack]:
            raise RefusedError(f"pulumi without --stack {self.stack}: {argv}")
        command = argv[: argv.index("--stack")]
        if command[:2] == ["config", "get"] and len(command) == 3:
            key = command[2] if ":" in command[2] else f"ai-etl:{command[2]}"
            if key not in self.config:
                raise RefusedError(f"configuration key '{key}' not found for stack '{self.stack}'")
            return f"{self.config[key]}\n"
        if command[:2] == ["config", "set"] or command[:2] == ["config", "rm"]:
            value = stdin.decode()
            if command[:2] == ["config", "set"] and "--raw" not in command:
                value = value.removesuffix("\n")  # pulumi/pulumi pkg/cmd/pulumi/config/config.go
            if command[:2] == ["config", "set"] and len([w for w in command[2:] if w[:2] != "--"]) == 1:
                (self.stored if "--raw" in command else self.prompted).append((command, value.encode()))
            run_cli(shlex.join(["pulumi", *argv]), self.config, self.secrets, stdin=value)
            return ""
        if command == ["preview", "--diff"]:
            self.run = run_config(self.stack, self.config, self.secrets)
            self.previewed = True
            return "Previewing update\n"
        if command == ["up", "--yes"]:
            return self.up()
        if command == ["stack", "output", "secretNames", "--json"] and self.run is not None:
            return json.dumps(self.run.exports["secretNames"])
        raise RefusedError(f"unexpected: pulumi {shlex.join(argv)}")

    def provider_options(self) -> dict[str, Any]:
        """The inputs of the stack's Kubernetes provider, as the last preview or up rendered them."""
        assert self.run is not None
        (provider,) = self.run.of_type(K8S_PROVIDER)
        return provider.inputs

    def up(self) -> str:
        if not self.previewed:
            raise RefusedError("up before any preview")
        self.run = run = run_config(self.stack, self.config, self.secrets)
        options = self.provider_options()
        c, ns = self.cluster, run.exports["namespace"]
        # The namespace exists: a create fails AlreadyExists unless the provider may upsert, and the
        # guide's SecretStore's fields belong to kubectl unless it may force (pulumi/pulumi-kubernetes
        # provider/pkg/await/await.go, Creation).
        if options.get("upsertExistingObjects") != "true" or options.get("enablePatchForce") != "true":
            raise RefusedError(f'namespaces "{ns}" already exists (the provider options: {options})')
        # Every workload's Deployment and synced Secret: the backend's takes over the guide's, any
        # other workload's is new.
        for consumer in run.exports["secretNames"]:
            metadata = workload_manifest(run, consumer, "Deployment")["metadata"]
            deployment = metadata["name"]
            if c.deployments.get((ns, deployment), metadata["labels"]) != metadata["labels"]:
                raise RefusedError(
                    f"Deployment.apps {deployment!r} is invalid: spec.selector: field is immutable"
                )
            c.deployments[(ns, deployment)] = metadata["labels"]
            c.replicasets.append(
                {"metadata": {"name": f"{deployment}-7f8e9d", "namespace": ns, "ownerReferences": [{}]}}
            )
            values = stored_values(run)
            external = workload_manifest(run, consumer, "ExternalSecret")
            c.secrets[(ns, external["spec"]["target"]["name"])] = {
                item["secretKey"]: values[item["remoteRef"]["key"]].encode()
                for item in external["spec"]["data"]
            }
        return "Update complete\n"

    # the server ------------------------------------------------------------------------------------

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        call = Call(request["tool"], request["argv"], bytes.fromhex(request["stdin"]))
        self.calls.append(call)
        try:
            if call.tool == "kubectl":
                out = self.kubectl(call.argv)
            elif call.tool == "aws":
                out = self.aws(call.argv)
            else:
                out = self.pulumi(call.argv, call.stdin)
        except RefusedError as error:
            return {"stdout": "", "stderr": f"{error}\n", "code": 1}
        except ExitedError as exited:
            return {"stdout": exited.stdout.encode().hex(), "stderr": exited.stderr, "code": exited.code}
        except Exception as error:  # the program refused its config, as `pulumi preview` would
            return {"stdout": "", "stderr": f"error: {type(error).__name__}: {error}\n", "code": 1}
        return {"stdout": out.encode().hex(), "stderr": "", "code": 0}

    def run_script(
        self, script: Path, project: Path, typed: str = "yes\nyes\n", timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """`bash <script>` in `project`, with only the fakes and the system's tools on PATH, and
        `typed` as its input: what the operator would type at its prompts and questions."""
        folder = script.parent / "fakes"
        (folder / "bin").mkdir(parents=True, exist_ok=True)
        (folder / "client.py").write_text(CLIENT)
        for name in ("kubectl", "aws", "pulumi"):
            shim(folder / "bin" / name, sys.executable, str(folder / "client.py"), name)
        # A socket's path is short (108 bytes): under /tmp, where TMPDIR is longer than that allows.
        base = tempfile.gettempdir()
        socket_dir = tempfile.mkdtemp(prefix="fakes-", dir=base if len(base) < 64 else "/tmp")
        try:
            return self._run_script(script, project, typed, timeout, folder, socket_dir + "/socket")
        finally:
            shutil.rmtree(socket_dir, ignore_errors=True)

    def _run_script(
        self, script: Path, project: Path, typed: str, timeout: float, folder: Path, address: str
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{folder / 'bin'}:/usr/bin:/bin",
            "HOME": str(folder),
            "FAKES_SOCKET": address,
            "KUBECONFIG": str(folder / "the-shells-own-kubeconfig"),
        }
        out, err = folder / "stdout", folder / "stderr"
        with socket.socket(socket.AF_UNIX) as server, out.open("w") as o, err.open("w") as e:
            server.bind(address)
            server.listen()
            bash = subprocess.Popen(
                ["bash", str(script)],
                cwd=project,
                env=env,
                stdin=subprocess.PIPE,
                stdout=o,
                stderr=e,
                text=True,
            )
            assert bash.stdin is not None
            bash.stdin.write(typed)
            bash.stdin.close()
            selector = selectors.DefaultSelector()
            selector.register(server, selectors.EVENT_READ)
            deadline = time.monotonic() + timeout
            while bash.poll() is None:
                assert time.monotonic() < deadline, "the script hangs"
                for _ in selector.select(timeout=0.05):
                    connection, _ = server.accept()
                    with connection:
                        request = json.loads(_received(connection))
                        connection.sendall(json.dumps(self.answer(request)).encode())
        return subprocess.CompletedProcess(bash.args, bash.returncode, out.read_text(), err.read_text())


def _received(connection: socket.socket) -> bytes:
    """Everything a client sent, up to its end of writing."""
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def stored_values(run: Run) -> dict[str, str]:
    """What each Secrets Manager secret holds, by its name."""
    names = {r.outputs["arn"]: r.inputs["name"] for r in run.of_type(SM_SECRET)}
    return {names[v.inputs["secretId"]]: unwrap(v.inputs["secretString"]) for v in run.of_type(SM_VERSION)}
