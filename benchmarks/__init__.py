"""Benchmarks: render time per stack, and the program's cost against the Pulumi SDK's floor."""
