"""ai-etl secrets infrastructure: stack config -> typed settings -> plan -> components -> stack outputs.

The steps, in order, are `ai_etl.program.main` (read settings, look up the cluster, plan, declare,
export); the benchmark calls the same function.
"""

from ai_etl.program import main

main()
