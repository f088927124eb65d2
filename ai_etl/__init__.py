"""The ai-etl project's own library: its stack settings, its secrets catalogue and its names.

Components (`ai_etl/components/`) take plain arguments and know nothing of this package but type tokens.
"""

PROJECT = "ai-etl"
"""The Pulumi project name: the `ai-etl:` config namespace and the prefix of every name."""
