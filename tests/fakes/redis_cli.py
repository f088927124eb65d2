"""A fake `redis-cli` (no Redis server here): it needs `-h HOST -p PORT` that a TCP connection
reaches (the port-forward to the stack's Redis), reads its commands from standard input as
redis-cli does when it is not a terminal, and keeps the `requirepass` it was given in
$FAKE_REDIS_PASSWORD (a test's scratch file) for the test to compare with Secrets Manager."""

from __future__ import annotations

import os
import socket
import sys


def main() -> None:
    args = sys.argv[1:]
    if len(args) != 4 or args[0] != "-h" or args[2] != "-p":
        print(f"fake redis-cli: expected -h HOST -p PORT, got {args}", file=sys.stderr)
        sys.exit(1)
    socket.create_connection((args[1], int(args[3])), timeout=5).close()
    lines = sys.stdin.read().splitlines()
    if len(lines) != 2 or lines[1] != "CONFIG REWRITE" or len(lines[0].split(" ")) != 4:
        print("ERR wrong number of arguments", file=sys.stderr)
        sys.exit(1)
    config, verb, name, password = lines[0].split(" ")
    if (config, verb, name) != ("CONFIG", "SET", "requirepass"):
        print(f"ERR unexpected {lines[0].split(' ')[:3]}", file=sys.stderr)
        sys.exit(1)
    with open(os.environ["FAKE_REDIS_PASSWORD"], "w") as f:
        f.write(password)
    print("OK\nOK")


if __name__ == "__main__":
    main()
