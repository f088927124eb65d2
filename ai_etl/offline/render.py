"""Render a stack offline: run the project's program under the SDK's mocks and write what it declares.

`resources.json` holds one object per resource in declaration order (type token, name, URN, parent,
dependencies, the options that matter for safety, and inputs with every secret as "[secret]");
`kubernetes.yaml` holds every Kubernetes object, ready for `kubectl apply --dry-run=server -f`.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ai_etl.masking import credential_key, hidden_credentials
from ai_etl.offline.diff import item_key
from ai_etl.offline.records import Registration, Run, Sensitive, secrets_in, unwrap
from ai_etl.offline.runner import offline_run

SECRET_MARK = "[secret]"


@dataclass(frozen=True)
class Rendered:
    """What `render` wrote, and the run behind it."""

    run: Run
    resources_path: Path
    kubernetes_path: Path
    placeholders: tuple[str, ...]
    """The provided secrets that got a placeholder (absent, or encrypted for the stack's provider)."""


def mask(value: Any) -> Any:
    """`value` with every secret written as "[secret]"."""
    if isinstance(value, Sensitive):
        return SECRET_MARK
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def fingerprint_key() -> bytes:
    """This machine's key for fingerprints: 32 random bytes made on first use, readable by their owner
    only, and written nowhere else (`$XDG_STATE_HOME/pulumi-offline/fingerprint.key`, by default
    under ~/.local/state). Made beside the final name and linked into place, so two renders at once
    agree on one key."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    path = state / "pulumi-offline" / "fingerprint.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, made = tempfile.mkstemp(dir=path.parent)  # mode 0600
        try:
            os.write(fd, secrets.token_bytes(32))
            os.close(fd)
            os.link(made, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(made)
    return path.read_bytes()


def fingerprints(value: Any, path: str = "", key: bytes | None = None) -> dict[str, str]:
    """A short keyed digest per secret path, so a diff can tell that a secret changed.

    HMAC-SHA256 under this machine's own key (fingerprint_key), never a plain hash: a value that
    is real (an adopted one left in plain text) could be found from a plain hash by trying
    candidates, and two stacks holding one value would show it. Without the key nobody can test a
    guess, and a key per machine makes fingerprints comparable only between renders made here,
    which is all a diff compares. (Hashing the ciphertext instead is no option offline: nothing is
    encrypted, and KMS's envelope encryption makes a new ciphertext every time.)"""
    key = fingerprint_key() if key is None else key
    if isinstance(value, Sensitive):
        text = json.dumps(unwrap(value), sort_keys=True).encode()
        return {path: hmac.new(key, text, "sha256").hexdigest()[:16]}
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(fingerprints(v, f"{path}.{k}" if path else k, key))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(fingerprints(v, f"{path}{item_key(value, i)}", key))  # the diff's own paths
    return out


def resource_record(r: Registration) -> dict[str, Any]:
    """One entry of resources.json."""
    record: dict[str, Any] = {
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "parent": r.parent or None,
        "custom": r.custom,
        "dependencies": sorted(set(r.dependencies)),
        "protect": r.protect,
        "retainOnDelete": r.retain_on_delete,
        "deleteBeforeReplace": r.delete_before_replace,
        "replaceOnChanges": r.replace_on_changes,
        "ignoreChanges": r.ignore_changes,
        "customTimeouts": r.custom_timeouts,
        "provider": r.provider.rpartition("::")[0] or None,
        "inputs": mask(r.inputs),
    }
    secret_paths = fingerprints(r.inputs)
    if secret_paths:
        record["secretFingerprints"] = secret_paths
    return record


def _each_text(value: Any, change: Callable[[str], Any]) -> Any:
    """`value` with `change` made to every text inside it (a secret is no text: it stays)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {k: _each_text(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_each_text(v, change) for v in value]
    return value


def provider_config_record(config: Mapping[str, Any]) -> dict[str, Any]:
    """The stack's provider configuration as resources.json holds it: each value with secrets as
    "[secret]" and credentials as the one masking rule hides them (ai_etl/masking.py: a URL's
    user-info, query values and fragment, an image's registry credentials), and a fingerprint of
    each so hidden, so that a diff sees a changed proxy password or secret key."""
    # A key named for a credential (aws:secretKey) is one even in plain text: hidden whole.
    config = {k: Sensitive(v) if credential_key(k) and isinstance(v, str) else v for k, v in config.items()}
    hidden = _each_text(dict(config), lambda t: Sensitive(t) if hidden_credentials(t) != t else t)
    return {
        "values": _each_text(mask(dict(config)), hidden_credentials),
        "secretFingerprints": fingerprints(hidden),
    }


_HEAD_KEYS = ("apiVersion", "kind", "metadata")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def kubernetes_documents(run: Run) -> list[dict[str, Any]]:
    """Every Kubernetes object, as `kubectl apply` takes it, keys in a stable order.

    The program declares no secret data; a secret here would be a defect, so it stops the render.
    """
    docs = []
    for r in run.resources:
        if r.type.startswith("kubernetes:"):
            if list(secrets_in(r.inputs)):
                raise ValueError(f"{r.name}: a Kubernetes object must not carry a secret value")
            doc = _sorted(r.inputs)
            docs.append({**{k: doc[k] for k in _HEAD_KEYS if k in doc}, **doc})
    return docs


def render(
    stack: str,
    out: Path,
    project_dir: Path = Path(),
    answers: Mapping[str, Any] | None = None,
    starting: Callable[[], None] | None = None,
) -> Rendered:
    """Run the project's program for `stack` (the project in the current directory unless given)
    and write resources.json and kubernetes.yaml into `out`; `starting` as offline_run's."""
    run, placeholders = offline_run(stack, project_dir, answers, starting)
    out.mkdir(parents=True, exist_ok=True)
    resources_path = out / "resources.json"
    resources_path.write_text(
        json.dumps(
            {
                "stack": stack,
                "providerConfig": provider_config_record(run.provider_config),
                "resources": [resource_record(r) for r in run.resources],
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    kubernetes_path = out / "kubernetes.yaml"
    kubernetes_path.write_text(
        yaml.safe_dump_all(kubernetes_documents(run), sort_keys=False, default_flow_style=False)
    )
    return Rendered(run, resources_path, kubernetes_path, tuple(placeholders))


def summary(rendered: Rendered) -> str:
    """The resources as a tree by component, then counts by type."""
    run = rendered.run
    children: dict[str, list[Registration]] = {}
    urns = {r.urn for r in run.resources}
    roots = []
    for r in run.resources:
        if r.parent in urns:
            children.setdefault(r.parent, []).append(r)
        else:
            roots.append(r)
    lines = [f"stack {run.stack}: {len(run.resources)} resources"]

    def walk(r: Registration, prefix: str, last: bool) -> None:
        flags = " [protected]" if r.protect else ""
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{r.type}  {r.name}{flags}")
        kids = children.get(r.urn, [])
        for i, kid in enumerate(kids):
            walk(kid, prefix + ("   " if last else "│  "), i == len(kids) - 1)

    for i, root in enumerate(roots):
        walk(root, "", i == len(roots) - 1)
    lines.append("")
    lines.append("by type:")
    counts: Mapping[str, int] = Counter(r.type for r in run.resources)
    for token, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {count:>4}  {token}")
    if rendered.placeholders:
        lines.append("")
        lines.append(
            "placeholders (secret here, not decryptable offline): " + ", ".join(rendered.placeholders)
        )
    lines.append("")
    lines.append(f"wrote {rendered.resources_path} and {rendered.kubernetes_path}")
    return "\n".join(lines)
