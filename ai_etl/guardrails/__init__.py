"""The guide's practices as rules, shared by the policy pack and `python -m ai_etl.offline check`."""
