"""The ai-etl policy pack: `pulumi preview --policy-pack policy` runs every guardrail."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # policies.py, beside this file

from policies import PACK_NAME, POLICIES
from pulumi_policy import PolicyPack

PolicyPack(name=PACK_NAME, policies=POLICIES)
