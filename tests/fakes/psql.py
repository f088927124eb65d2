"""A fake `psql` (the tests have no PostgreSQL server of their own): it needs `-v ON_ERROR_STOP=1`
and one connection URL whose host and port a TCP connection reaches (the port-forward to the
stack's Postgres). It reads the script from standard input as psql does, runs each
`\\set NAME `command`` through the shell and keeps its output less the trailing newline, as psql
does for a backquoted value, and expands `:'NAME'` to that value quoted as an SQL literal. The
statements, so expanded, go to $FAKE_PSQL_LOG (a test's scratch file) for the test to read."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from urllib.parse import urlsplit


def fail(message: str) -> None:
    print(f"psql: error: {message}", file=sys.stderr)
    sys.exit(3)


def main() -> None:
    args = sys.argv[1:]
    if args[:2] != ["-v", "ON_ERROR_STOP=1"] or len(args) != 3:
        fail(f"expected -v ON_ERROR_STOP=1 URL, got {args}")
    url = urlsplit(args[2])
    if url.scheme not in ("postgresql", "postgres") or not url.hostname or not url.port:
        fail(f"not a connection URL with a host and port: {args[2]}")
    try:
        socket.create_connection((url.hostname, url.port), timeout=5).close()
    except OSError as error:
        fail(f'connection to server at "{url.hostname}", port {url.port} failed: {error}')
    variables: dict[str, str] = {}
    statements: list[str] = []
    for line in sys.stdin.read().splitlines():
        command = re.fullmatch(r"\\set (\w+) `(.*)`", line)
        if command:
            done = subprocess.run(["sh", "-c", command[2]], capture_output=True, text=True, check=False)
            if done.returncode:
                fail(f"backquoted command failed: {done.stderr.strip()}")
            variables[command[1]] = done.stdout.removesuffix("\n")
        elif line.strip():

            def literal(match: re.Match[str]) -> str:
                return "'" + variables[match[1]].replace("'", "''") + "'"

            statements.append(re.sub(r":'(\w+)'", literal, line))
    with open(os.environ["FAKE_PSQL_LOG"], "a") as log:
        log.write(json.dumps(statements) + "\n")


if __name__ == "__main__":
    main()
