"""`make help` is the Makefile's index: every target has its `## ` comment right above it, so the
list says what each target does, never what the one below it does."""

from __future__ import annotations

import re
import subprocess

from tests.paths import PROJECT_DIR

MAKEFILE = (PROJECT_DIR / "Makefile").read_text().splitlines()
TARGET = re.compile(r"[a-z][a-z-]*:")


def phony() -> list[str]:
    """The targets a person runs: the Makefile's `.PHONY` list."""
    (line,) = [line for line in MAKEFILE if line.startswith(".PHONY:")]
    return line.split(":", 1)[1].split()


def test_every_help_comment_sits_right_above_a_target() -> None:
    """A `## ` block followed by anything but a target (a variable, a blank line, another rule) would
    be dropped or told of the wrong target."""
    for i, line in enumerate(MAKEFILE):
        if line.startswith("## ") and not MAKEFILE[i + 1].startswith("## "):
            assert TARGET.match(MAKEFILE[i + 1]), f"line {i + 1}: {line!r} is above {MAKEFILE[i + 1]!r}"


def test_make_help_lists_every_target_with_its_own_comment() -> None:
    out = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout
    listed = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()}
    assert sorted(listed) == sorted(phony())
    for target, said in listed.items():
        above = MAKEFILE[MAKEFILE.index(next(line for line in MAKEFILE if line.startswith(f"{target}:"))) - 1]
        assert above.startswith("## ") and above[3:] in said, target
