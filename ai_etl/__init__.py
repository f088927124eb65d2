"""The ai-etl secrets infrastructure, one package laid out as the data flows.

Stack config -> `config` (typed settings) -> `catalogue` (the secrets, as data) -> `plan` (what one
environment declares, computed) -> `environment` (wires `components`) -> the stack outputs.
Beside it: `names`, `grade` and `masking` (facts every layer shares), `guardrails` (the rules),
`offline` (runs any Pulumi program under the SDK's mocks) and `ops` (operator tools). Nothing
imports upward, and this module imports nothing, so the policy pack can load the light modules alone.
"""
