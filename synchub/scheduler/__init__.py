"""The scheduler: lease, fire, dispatch, reap."""
