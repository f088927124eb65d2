"""Where the project under test is: this checkout's root, found from this file (pytest runs from it).

The program's own tools find a project from the current directory (or `-C DIR`), as the Pulumi CLI
does; only the tests know where their checkout is."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_DIR / "__main__.py"
"""The project's program (Pulumi.yaml names no other `main`)."""
