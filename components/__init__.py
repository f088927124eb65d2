"""The ai-etl secrets infrastructure: settings, the secrets catalogue, and one component per concern."""
