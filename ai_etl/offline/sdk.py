"""What the offline engine needs of the Pulumi SDK beyond its public API, in one place.

The wire form of a secret: the SDK's names for it are private (`pulumi.runtime.rpc.
_special_sig_key`, `_special_secret_sig`), so the values stand here as the protocol defines them
(pulumi/pulumi sdk/go/common/resource/sig/sig.go). And what makes a run cheaper (below): no source
positions, no cycle collector. pyproject.toml pins the SDK to one exact version, and
tests/test_offline.py holds these to the SDK's own.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIG_KEY = "4dabf18193072939515e22adb298388d"
"""The key that marks a special value on the wire."""
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
"""Its value for a secret: `{SIG_KEY: SECRET_SIG, "value": ...}`."""


def is_secret_wire(value: Any) -> bool:
    """Whether `value` is a secret in its wire form."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def secret_wire(value: Any) -> dict[str, Any]:
    """`value` in the wire form of a secret."""
    return {SIG_KEY: SECRET_SIG, "value": value}


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """A run without the cycle collector; it is turned back on (if it was on) when the run ends.

    A run allocates tens of thousands of short-lived objects (the SDK's Outputs, futures and asyncio
    handles) while the provider SDKs' modules, imported on first use, hold hundreds of thousands of
    long-lived ones; every third-generation collection walks them all again. Measured on a
    production render of 156 resources: 0.51 s of CPU with the collector, 0.36 s without.
    Reference counting still frees what a run drops; the cycles it leaves are collected by the next
    collection after the run, so a process that renders many stacks does not grow."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def no_source_positions() -> Iterator[None]:
    """Registrations without the stack trace the SDK takes for each one.

    The SDK walks the whole Python stack at every resource it registers or reads
    (pulumi/pulumi sdk/python/lib/pulumi/runtime/resource.py, `_get_stack_trace`, a
    `traceback.extract_stack()` with each frame's file as a URI) and sends it in the request's
    `sourcePosition` and `stackTrace`, which the engine shows in errors. Offline there is no engine:
    the mocks' monitor keeps neither (ai_etl/offline/monitor.py records type, name, inputs and
    options), so the trace is a tenth of a render's time spent on nothing. `_get_source_position`
    reads an empty trace as "no position" (same file), as the SDK does for a frame it cannot place.
    """
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    taken = resource._get_stack_trace
    resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        resource._get_stack_trace = taken
