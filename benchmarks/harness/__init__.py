"""What every benchmark section shares: the plan, the child-process runner, machine facts and printing."""
