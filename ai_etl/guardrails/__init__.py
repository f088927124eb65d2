"""The guide's practices as rules (rules.py), shared by the policy pack and `make check`
(python -m ai_etl.ops.check), with the guide's Validation Checklist they decide (checklist.py)."""
