"""An epic that is also the parent is one source of evidence, not two."""
from itsm_align.plugins.engine import build_engine
from itsm_align.scoring.types import WorkItem

OBJECTIVES = [{"id": "revenue", "name": "Grow online revenue", "weight": 5}]
RULES = [
    {"id": "shop", "objective": "revenue", "confidence": 0.9, "when": {"project": "SHOP"}},
    {"id": "from-parent", "inherit": "parent", "decay": 0.8},
    {"id": "from-epic", "inherit": "epic", "decay": 0.8},
]


def test_parent_and_epic_rules_on_the_same_item_count_once() -> None:
    engine = build_engine(OBJECTIVES, RULES)
    epic = engine.assess(WorkItem(platform="jira", key="SHOP-1", project="SHOP", type="epic"))
    child = WorkItem(platform="jira", key="APP-2", project="APP", parent="SHOP-1")
    explained = engine.explain(child, related={"SHOP-1": epic})
    # 0.9 x 0.8 = 0.72 -> 72; counting the epic twice would give 1-(1-0.72)^2 -> 92
    assert explained.assessment.objective == "revenue"
    assert explained.assessment.score == 72
    skipped = [o for o in explained.outcomes if o.rule_id == "from-epic"]
    assert skipped and skipped[0].status == "skipped"
    assert "SHOP-1" in skipped[0].detail
