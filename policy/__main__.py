"""The ai-etl policy pack: `pulumi preview --policy-pack policy` runs every guardrail.

The engine starts it as `python __main__.py` in this folder, so `policies` (beside it) imports as
is; the rules come from the installed project (`pip install -e ..`, see the Makefile).
"""

from policies import PACK_NAME, POLICIES
from pulumi_policy import PolicyPack

PolicyPack(name=PACK_NAME, policies=POLICIES)
