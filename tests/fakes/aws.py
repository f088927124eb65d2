"""The real `aws` ($FAKE_AWS_REAL, talking to moto), with a region that is out
($FAKE_AWS_LOST_REGION: every call to it fails as an unreachable endpoint does) and the one call
moto lacks, `secretsmanager stop-replication-to-replica`, emulated by its documented effect: the
replica becomes a standalone secret of its region, same name and value, under the replica's key
(the primary, in $FAKE_AWS_PRIMARY_REGION, is read and unlinked behind the scenes, as AWS does
internally). Each call's arguments are logged to $FAKE_AWS_LOG, if set (the runbooks put no value
on a command line: `tests/test_docs.py` holds them to it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def real(*args: str) -> str:
    done = subprocess.run([os.environ["FAKE_AWS_REAL"], *args], capture_output=True, text=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stderr)
        sys.exit(done.returncode)
    return done.stdout


def option(args: list[str], name: str, default: str | None = None) -> str | None:
    return args[args.index(name) + 1] if name in args else default


def main() -> None:
    args = sys.argv[1:]
    if os.environ.get("FAKE_AWS_LOG"):
        with open(os.environ["FAKE_AWS_LOG"], "a") as log:
            log.write(json.dumps(args) + "\n")
    region = option(args, "--region", os.environ.get("AWS_DEFAULT_REGION"))
    if region and region == os.environ.get("FAKE_AWS_LOST_REGION"):
        print(
            f'\nCould not connect to the endpoint URL: "https://{args[0]}.{region}.amazonaws.com/"',
            file=sys.stderr,
        )
        sys.exit(255)
    if args[:2] != ["secretsmanager", "stop-replication-to-replica"]:
        os.execv(os.environ["FAKE_AWS_REAL"], [os.environ["FAKE_AWS_REAL"], *args])
    name, primary = str(option(args, "--secret-id")), os.environ["FAKE_AWS_PRIMARY_REGION"]
    assert region and region != primary, "stop-replication-to-replica is called in the replica's region"
    status = json.loads(real("secretsmanager", "describe-secret", "--region", primary, "--secret-id", name))
    (key,) = [s["KmsKeyId"] for s in status.get("ReplicationStatus", []) if s["Region"] == region]
    value = real("secretsmanager", "get-secret-value", "--region", region, "--secret-id", name,
                 "--query", "SecretString", "--output", "text")[:-1]  # fmt: skip
    real("secretsmanager", "remove-regions-from-replication", "--region", primary, "--secret-id", name,
         "--remove-replica-regions", region)  # fmt: skip
    arn = json.loads(real("secretsmanager", "create-secret", "--region", region, "--name", name,
                          "--kms-key-id", key, "--secret-string", value))["ARN"]  # fmt: skip
    if (option(args, "--query"), option(args, "--output")) == ("ARN", "text"):
        print(arn)
    else:
        print(json.dumps({"ARN": arn}))


if __name__ == "__main__":
    main()
