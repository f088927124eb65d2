"""The program's components, one per concern; each takes plain arguments (names, labels, tags) and
can be used on its own. `environment.Environment` wires them for one stack."""
