"""The guide's practices as rules, shared by the policy pack and `python -m offline check`."""
