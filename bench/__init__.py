"""synchub's benchmarks: run by hand or with `make bench`; never part of the test suite.

`python -m bench` runs them all; `python -m bench NAME` runs one (overhead, lateness, memory,
api, celery, guard).
Raw results go to bench/results/ as JSON; bench/RESULTS.md records them and
docs/performance.md sums them up for users.
"""
