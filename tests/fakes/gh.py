"""A fake `gh` for the workflows' steps: the commands they call, with the flags cli/cli declares for
them (pkg/cmd/api/api.go; pkg/cmd/run/download/download.go; pkg/cmd/issue/{list,create,comment,
edit,close}; pkg/cmd/pr/comment), refusing an unknown flag or JSON field as gh does. GitHub's side
is the JSON file $FAKE_GH_STATE (pull requests, runs with their artifacts and jobs, comments,
issues, and `failing`: API paths, as regular expressions, that answer HTTP 502), which the
writes change; each call's arguments go to $FAKE_GH_LOG, one JSON list a line.

`--jq` runs the real jq (Debian's `jq`, which .ci/run installs) and prints its results as gh does:
a string, number, boolean or null bare (null as an empty line), anything else as compact JSON
(cli/cli pkg/cmd/api/api.go calls cli/go-gh pkg/jq EvaluateFormatted, which does that)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

# command -> (flags taking a value, boolean flags); short forms as gh declares them.
COMMANDS: dict[tuple[str, ...], tuple[set[str], set[str]]] = {
    ("api",): ({"method", "jq", "field", "raw-field", "header", "template", "input"}, {"paginate", "silent"}),
    ("run", "download"): ({"repo", "pattern", "name", "dir"}, set()),
    ("issue", "list"): ({"repo", "state", "search", "json", "jq", "label", "limit"}, set()),
    ("issue", "comment"): ({"repo", "body", "body-file"}, set()),
    ("issue", "create"): ({"repo", "title", "body", "body-file", "label"}, set()),
    ("issue", "edit"): ({"repo", "body", "body-file", "title"}, set()),
    ("issue", "close"): ({"repo", "comment", "reason"}, set()),
    ("pr", "comment"): ({"repo", "body", "body-file"}, set()),
}
SHORT = {
    **{"X": "method", "q": "jq", "F": "field", "f": "raw-field", "R": "repo", "p": "pattern", "n": "name"},
    **{"D": "dir", "s": "state", "S": "search", "b": "body", "t": "title", "c": "comment", "H": "header"},
}
ISSUE_FIELDS = {"number", "title", "state", "body", "url", "author", "labels", "createdAt"}


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def parse(argv: list[str]) -> tuple[tuple[str, ...], dict[str, list[str]], list[str]]:
    command = next((c for c in COMMANDS if tuple(argv[: len(c)]) == c), None)
    if command is None:
        fail(f"unknown command: gh {' '.join(argv[:2])}")
    assert command is not None
    valued, boolean = COMMANDS[command]
    flags: dict[str, list[str]] = {}
    positional: list[str] = []
    rest = argv[len(command) :]
    while rest:
        word = rest.pop(0)
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
        elif word.startswith("-") and len(word) > 1:
            if word[1] not in SHORT:
                fail(f"unknown shorthand flag: {word[1]!r} in {word}")
            name, eq, value = SHORT[word[1]], ("=" if len(word) > 2 else ""), word[2:]
        else:
            positional.append(word)
            continue
        if name in boolean:
            flags.setdefault(name, []).append("true")
        elif name in valued:
            if not eq:
                if not rest:
                    fail(f"flag needs an argument: {word}")
                value = rest.pop(0)
            flags.setdefault(name, []).append(value)
        else:
            fail(f"unknown flag: {word}")
    return command, flags, positional


def jq(expr: str, value: Any) -> str:
    """What `--jq expr` prints for `value`, evaluated by the real jq."""
    binary = shutil.which("jq")
    if binary is None:
        fail("the fake gh needs the real jq: install Debian's package (apt-get install jq), as .ci/run does")
    assert binary is not None
    done = subprocess.run([binary, "-c", expr], input=json.dumps(value), capture_output=True, text=True)
    if done.returncode:
        fail(f"jq: {done.stderr.strip()}")
    out = []
    for line in done.stdout.splitlines():
        result = json.loads(line)
        if result is None:
            out.append("")
        elif isinstance(result, bool):
            out.append("true" if result else "false")
        elif isinstance(result, float):
            out.append(str(int(result)) if result == int(result) else f"{result:.2f}")
        elif isinstance(result, str | int):
            out.append(str(result))
        else:
            out.append(json.dumps(result, separators=(",", ":")))
    return "".join(f"{line}\n" for line in out)


def emit(value: Any, flags: dict[str, list[str]]) -> None:
    if "jq" in flags:
        print(jq(flags["jq"][-1], value), end="")
    else:
        print(json.dumps(value))


BODY_LIMIT = 65536
"""GitHub's 422 on a longer body: "Body is too long (maximum is 65536 characters)" (reported in
telia-oss/github-pr-resource issue #259 for an issue comment)."""


def checked(body: str) -> str:
    if len(body) > BODY_LIMIT:
        fail("gh: Validation Failed (HTTP 422): Body is too long (maximum is 65536 characters)")
    return body


def body_of(flags: dict[str, list[str]]) -> str:
    if "body-file" in flags:
        return checked(Path(flags["body-file"][-1]).read_text())
    if "body" in flags:
        return checked(flags["body"][-1])
    fail("stricter than gh: give --body or --body-file (gh would open an editor)")
    return ""


def field_value(field: str) -> str:
    """`-F key=value`: a value `@file` is the file's text (api.go, magic fields)."""
    _, _, value = field.partition("=")
    return Path(value[1:]).read_text() if value.startswith("@") else value


def main() -> None:
    argv = sys.argv[1:]
    if not os.environ.get("GH_TOKEN"):
        fail("gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.")
    command, flags, positional = parse(argv)
    with open(os.environ["FAKE_GH_LOG"], "a") as log:
        log.write(json.dumps(argv) + "\n")
    state_path = Path(os.environ["FAKE_GH_STATE"])
    state = json.loads(state_path.read_text())
    repo = state["repo"]
    if command != ("api",) and flags.get("repo", [None])[-1] != repo:
        fail(f"stricter than gh: name the repository with --repo {repo} (the job has no clone to infer it)")
    if command == ("api",):
        (endpoint,) = positional
        method = flags.get("method", ["POST" if "field" in flags or "raw-field" in flags else "GET"])[-1]
        prefix = f"repos/{repo}/"
        if not endpoint.startswith(prefix):
            fail(f"gh: Not Found (HTTP 404): {endpoint}")
        path = endpoint[len(prefix) :]
        if any(re.fullmatch(pattern, path) for pattern in state.get("failing", [])):
            fail(f"gh: Server Error (HTTP 502): {endpoint}")
        if m := re.fullmatch(r"pulls\?(.*)", path):
            # The pull requests whose head is `<owner>:<branch>` (REST "List pull requests", `head`).
            query = urllib.parse.parse_qs(m[1])
            (state_wanted,), (head,) = query.get("state", ["open"]), query["head"]
            pulls = state["pulls"].values()
            emit(
                [
                    p
                    for p in pulls
                    if p.get("state", "open") == state_wanted and p["head"].get("label") == head
                ],
                flags,
            )
        elif m := re.fullmatch(r"pulls/(\d+)", path):
            if m[1] not in state["pulls"]:
                fail("gh: Not Found (HTTP 404)")
            emit(state["pulls"][m[1]], flags)
        elif m := re.fullmatch(r"actions/runs/(\d+)/(artifacts|jobs)", path):
            run = state["runs"].get(m[1], {"artifacts": [], "jobs": []})
            items = [{k: v for k, v in a.items() if k != "files"} for a in run[m[2]]]
            emit({"total_count": len(items), m[2]: items}, flags)
        elif m := re.fullmatch(r"issues/(\d+)/comments", path):
            emit(state["comments"].get(m[1], []), flags)
        elif (m := re.fullmatch(r"issues/comments/(\d+)", path)) and method == "PATCH":
            body = checked(next(field_value(f) for f in flags["field"] if f.startswith("body=")))
            found = [c for cs in state["comments"].values() for c in cs if str(c["id"]) == m[1]]
            if not found:
                fail("gh: Not Found (HTTP 404)")
            found[0]["body"] = body
            emit(found[0], flags)
        else:
            fail(f"the fake gh does not know {method} {endpoint}")
    elif command == ("run", "download"):
        (run_id,) = positional
        artifacts = [a for a in state["runs"].get(run_id, {"artifacts": []})["artifacts"] if not a["expired"]]
        if not artifacts:
            fail("no valid artifacts found to download")
        patterns = flags.get("pattern", [])
        chosen = [a for a in artifacts if any(fnmatch.fnmatchcase(a["name"], p) for p in patterns)]
        if not chosen:
            fail("no artifact matches any of the names or patterns provided")
        for artifact in chosen:
            folder = Path(flags.get("dir", ["."])[-1]) / artifact["name"]
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in artifact["files"].items():
                (folder / name).write_text(text)
    elif command == ("issue", "list"):
        fields = flags.get("json", [""])[-1].split(",")
        unknown = [f for f in fields if f not in ISSUE_FIELDS]
        if unknown:
            fail(f"Unknown JSON field: {unknown[0]!r}")
        words = flags.get("search", [""])[-1].replace("in:title", "").split()
        wanted = flags.get("state", ["open"])[-1]
        found = [
            {f: i[f] for f in fields}
            for i in state["issues"]
            if i["state"] == wanted and all(w.lower() in i["title"].lower() for w in words)
        ]
        emit(found, flags)
    else:
        number = positional[0] if positional else None
        issue = next((i for i in state["issues"] if str(i["number"]) == number), None)
        if command == ("issue", "create"):
            issue = {"number": len(state["issues"]) + 1, "title": flags["title"][-1], "state": "open"}
            issue |= {"body": body_of(flags), "comments": []}
            state["issues"].append(issue)
            print(f"https://github.com/{repo}/issues/{issue['number']}")
        elif command == ("pr", "comment"):
            state["comments"].setdefault(number, []).append(
                {
                    "id": 1000 + len(state["comments"].get(number, [])),
                    "user": {"login": "github-actions[bot]"},
                    "body": body_of(flags),
                }
            )
        elif issue is None:
            fail(f"GraphQL: Could not resolve to an issue or pull request with the number of {number}.")
        elif command == ("issue", "comment"):
            issue["comments"].append(body_of(flags))
        elif command == ("issue", "edit"):
            issue["body"] = body_of(flags)
        elif command == ("issue", "close"):
            issue["state"] = "closed"
            issue["comments"] += flags.get("comment", [])
    state_path.write_text(json.dumps(state))


if __name__ == "__main__":
    main()
