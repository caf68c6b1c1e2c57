"""Attach the suite ``fl-node deploy`` put on the chain to this Brownie session.

In ``brownie console`` (``make console`` does it by itself)::

    >>> run("attach")                                  # deployments/<chainId>.json
    >>> run("attach", args=["deployments/11155111.json"])
    >>> Federation[-1].taskCount()

or ``brownie run scripts/attach.py --network <id>`` (``main <file>`` names another file). After it,
every contract of the deployment file is in its Brownie container: ``Federation[-1]``,
``StakeVault[-1]``... are the live contracts (an existing ERC-20 base token is returned as
``BaseToken``). The file is ``$FL_DEPLOYMENT`` when set.
"""

from __future__ import annotations

from fl_node.toolchain.brownie_suite import attach_deployment, script_errors


def main(path=None):
    with script_errors():
        return attach_deployment(path)
