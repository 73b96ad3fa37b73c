"""One module per query operator; each exposes `run(plan_node, ctx) -> BitMap`."""
