"""The cost tables (docs/security.md, the README) follow what the program declares, grade by grade:
each grade's stack is rendered (the suite's shared renders), every resource type it declares is
priced by a line of ai_etl/ops/cost.py, and the committed tables are what those renders count."""

from __future__ import annotations

import copy

import pytest

from ai_etl.offline.records import Run
from ai_etl.ops import cost
from ai_etl.ops.docs import PAGES, grade_stacks
from ai_etl.tokens import KMS_KEY, METRIC_ALARM, SM_SECRET
from tests.helpers import PRODUCTION_GRADE, STACKS, on_rds, run_stack, stack_config
from tests.paths import PROJECT_DIR

REPLICAS = next(line.item for line in cost.LINES if line.count_of is cost.secret_replicas)


def item_of(type_token: str) -> str:
    """The cost line that counts resources of `type_token`."""
    return next(line.item for line in cost.LINES if type_token in line.counted)


def generated_part(name: str) -> str:
    """What a page holds between `<!-- <name>:start -->` and `<!-- <name>:end -->`."""
    text = (PROJECT_DIR / PAGES[name]).read_text()
    return text.split(f"<!-- {name}:start -->\n", 1)[1].split(f"<!-- {name}:end -->", 1)[0]


def test_the_cost_tables_are_what_each_grades_render_declares() -> None:
    """Users budget from these tables: each is made from the render of the first committed stack of
    each grade (`make docs`), so a key, secret, alarm or replica the program declares is counted
    and priced, and the committed text is current. Every other committed stack declares what its
    grade's column says, so the table holds for each stack, not one."""
    standard, production = grade_stacks(PROJECT_DIR)
    low, high = run_stack(standard), run_stack(production)
    assert generated_part("cost-table") == cost.table(low, high)
    assert generated_part("cost-summary") == cost.summary(low, high)
    found = cost.counts(high)
    # A second witness of three lines, counted by hand from the render: keys, alarms, replicas.
    assert found[item_of(KMS_KEY)] == len(high.of_type(KMS_KEY)) > 0
    assert found[item_of(METRIC_ALARM)] == len(high.of_type(METRIC_ALARM)) > 0
    replicas = [r for s in high.of_type(SM_SECRET) for r in s.inputs["replicas"]]
    assert found[REPLICAS] == len(replicas) == len(high.of_type(SM_SECRET))
    assert cost.counts(low)[REPLICAS] == 0
    for stack in STACKS:
        counted = cost.counts(run_stack(stack))  # every type a committed stack declares is priced
        managed = (
            on_rds(stack) or stack_config(stack).get("ai-etl:redis", {}).get("kind", "cluster") != "cluster"
        )
        if not managed:  # the tables price the in-cluster servers; a managed store's stack differs there
            assert counted == cost.counts(high if stack in PRODUCTION_GRADE else low), stack


def test_a_resource_type_without_a_cost_line_stops_the_table() -> None:
    """A resource added to the program without a price would make the tables wrong in silence: the
    table refuses to be made, naming the type and where its line goes."""
    run: Run = copy.deepcopy(run_stack(grade_stacks(PROJECT_DIR)[1]))
    added = copy.deepcopy(run.of_type(KMS_KEY)[0])
    added.type = "aws:ec2/instance:Instance"
    run.resources.append(added)
    with pytest.raises(cost.UnpricedError, match=r"aws:ec2/instance:Instance.*ai_etl/ops/cost\.py"):
        cost.table(run_stack(grade_stacks(PROJECT_DIR)[0]), run)
