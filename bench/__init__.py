"""synchub's benchmarks: run by hand or with `make bench`; never part of the test suite.

`python -m bench` runs them all; `python -m bench overhead|lateness|memory|api` runs one.
Raw results go to bench/results/ as JSON; docs/performance.md reports them.
"""
