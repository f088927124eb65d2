"""The program's components, one per concern. Each takes plain typed arguments (names, labels, tags, a
frozen ContainerSpec) and imports nothing of the config layer, so another program can use it alone;
`ai_etl.environment.Environment` wires them for one stack from a plan."""
