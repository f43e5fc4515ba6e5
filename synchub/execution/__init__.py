"""Running runs: the runner, and the executors that hand runs to it."""
