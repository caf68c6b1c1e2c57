"""Property and stateful tests run the same examples on every run, whatever the flags: no example
database (Brownie's plugin installs one with -v, -q, -s or --failfast) and derandomized."""

from hypothesis import settings


def test_every_run_draws_the_same_examples() -> None:
    current = settings()
    assert current.database is None
    assert current.derandomize
