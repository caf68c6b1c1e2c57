"""Test-session wiring: the session owns one Anvil chain, and Brownie attaches to it.

Brownie's pytest plugin connects to its network at the end of collection. Just before it does,
this file starts an Anvil on a free port (owned by this process, stopped by its PID at the end,
even on failure or Ctrl-C) and points Brownie's ``anvil`` network at it. Tests of the Python
package that need their own chain start one with :class:`fl_node.toolchain.localchain.LocalChain`.
"""

from __future__ import annotations

import pytest

from fl_node.toolchain import brownie_receipts
from fl_node.toolchain.localchain import LocalChain

_session_chain: LocalChain | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        help="also run tests marked slow (long invariant campaigns, large federations)",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # Same examples on every run, so a red CI run is reproducible. Brownie registers its own
    # hypothesis profile (with an example database) when it loads the project, and again in its
    # own pytest_configure with -v/-q/-s or --failfast: derive from it, last, without the database
    # (whose saved examples would make the run depend on earlier runs and on the flags).
    from hypothesis import settings

    current = settings()
    settings.register_profile(
        "fl-node",
        parent=current,
        derandomize=True,
        database=None,
        max_examples=current.max_examples * (8 if config.getoption("--run-slow") else 1),
    )
    settings.load_profile("fl-node")
    # Anvil can serve a mined transaction's receipt a moment after the sender's nonce moved on,
    # which Brownie reads as a dropped transaction: wait for the receipt first.
    brownie_receipts.install()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _brownie_config():  # type: ignore[no-untyped-def]
    try:
        from brownie._config import CONFIG
    except ImportError:  # participant install without Brownie: chain tests are skipped
        return None
    return CONFIG


def pytest_collection_finish(session: pytest.Session) -> None:
    global _session_chain
    config = _brownie_config()
    if config is None or not session.items or _session_chain is not None:
        return
    if not session.config.pluginmanager.has_plugin("pytest-brownie"):
        return
    _session_chain = LocalChain(accounts=20).start()
    config.networks["anvil"]["cmd_settings"]["port"] = _session_chain.port
    config.argv["network"] = "anvil"


def pytest_unconfigure(config: pytest.Config) -> None:
    global _session_chain
    if _session_chain is not None:
        _session_chain.stop()
        _session_chain = None
