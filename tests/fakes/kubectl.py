"""A fake `kubectl` that refuses to run against any cluster but the stack's: it needs
`--kubeconfig FILE` whose current context's server is $FAKE_KUBE_SERVER (the endpoint of the
stack's cluster, as `aws eks describe-cluster` gives it) and `-n` the stack's namespace
($FAKE_KUBE_NAMESPACE). It serves `port-forward svc/NAME LOCAL:PORT` by forwarding to the address
$FAKE_KUBE_SERVICES gives NAME (refusing a port the Service does not have), `get secret` from
$FAKE_KUBE_SECRETS, and `rollout restart deployment/NAME` of $FAKE_KUBE_DEPLOYMENT; it logs each
call to $FAKE_KUBE_LOG."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from pathlib import Path

import yaml


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        sink.close()


def forward(local: int, target: str) -> None:
    host, port = target.rsplit(":", 1)
    server = socket.create_server(("127.0.0.1", local))
    print(f"Forwarding from 127.0.0.1:{local} -> {port}", flush=True)
    while True:
        client, _ = server.accept()
        upstream = socket.create_connection((host, int(port)))
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


def main() -> None:
    args = sys.argv[1:]
    with open(os.environ["FAKE_KUBE_LOG"], "a") as log:
        log.write(json.dumps(args) + "\n")
    options: dict[str, str] = {}
    words: list[str] = []
    while args:
        word = args.pop(0)
        if word in ("--kubeconfig", "-n", "--namespace", "-o", "--context"):
            options[word.lstrip("-")[:1] if word in ("-n", "--namespace") else word.lstrip("-")] = args.pop(0)
        elif word.startswith("-"):
            fail(f"unexpected flag {word}")
        else:
            words.append(word)
    if "context" in options:
        fail("--context names a context of the shell's kubeconfig, which may be any cluster")
    config = yaml.safe_load(Path(options.get("kubeconfig", os.devnull)).read_text() or "{}") or {}
    context: dict[str, str] = next(
        (c["context"] for c in config.get("contexts", []) if c["name"] == config.get("current-context")), {}
    )
    server = next(
        (c["cluster"]["server"] for c in config.get("clusters", []) if c["name"] == context.get("cluster")),
        None,
    )
    if server != os.environ["FAKE_KUBE_SERVER"]:
        fail(f"not the stack's cluster: {server} (the kubeconfig {options.get('kubeconfig')})")
    if options.get("n") != os.environ["FAKE_KUBE_NAMESPACE"]:
        fail(f"not the stack's namespace: {options.get('n')}")
    if words[:1] == ["port-forward"] and len(words) == 3 and words[1].startswith("svc/"):
        services = json.loads(os.environ["FAKE_KUBE_SERVICES"])
        name, (local, port) = words[1][4:], words[2].split(":")
        if name not in services or int(port) != services[name]["port"]:
            fail(f"services/{name} has no port {port}")
        forward(int(local), services[name]["to"])
    elif words[:2] == ["rollout", "restart"] and words[2:] == [
        f"deployment/{os.environ['FAKE_KUBE_DEPLOYMENT']}"
    ]:
        print(f"{words[2]} restarted")
    elif (
        words[:2] == ["get", "secret"]
        and len(words) == 3
        and options.get("o", "").startswith("jsonpath={.data.")
    ):
        key = options["o"][len("jsonpath={.data.") : -1]
        print(json.loads(os.environ["FAKE_KUBE_SECRETS"]).get(words[2], {}).get(key, ""), end="")
    else:
        fail(f"unexpected: kubectl {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
