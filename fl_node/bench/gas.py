"""``fl-node bench gas``: gas of every user-facing call, and how a round's gas grows with clients.

On an embedded Anvil with the suite deployed, it registers clients (half of them opening a market at
registration), then for 10, 100 and 500 clients runs a task of two rounds: every client commits a
sealed hash with a stake and reveals it, the aggregator posts one Merkle root and finalizes (after a
1-s challenge window), every client claims (which settles its stake) or, for negative scores, a
keeper settles the burn; every fifth claimer of the first round claims it in the transaction of its
next commit instead (``multicall``), as a node does. It records the gas of every call by name and
the per-round figures: the aggregator's gas (open + post + finalize) and a client's gas (commit +
reveal + claim), which must stay flat as the federation grows.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount
from tqdm import tqdm

from fl_node.chain.client import ChainClient
from fl_node.chain.deploy import SuiteConfig, deploy_suite
from fl_node.chain.keys import account_from_key
from fl_node.chain.receipts import quantity
from fl_node.federation.protocol import TIME_GATED_GAS, commitment_hash
from fl_node.settlement.merkle import MerkleTree, ResultLeaf
from fl_node.toolchain.build import compile_contracts
from fl_node.toolchain.localchain import LocalChain, dev_private_keys, rpc_call

WAD = 10**18
#: The label of a pool's first trade (a buy), apart from the steady ones.
FIRST_TRADE = "ClientPool.swapExactBaseForTokens[a pool's first trade]"
#: A buy by a trader whose dividends owed are already credited (its first credit writes a zero
#: slot, 17k more, once per holder).
HOLDER_BUY = "ClientPool.swapExactBaseForTokens[a holder with dividends owed]"
STAKE = 100 * WAD
ZERO = b"\x00" * 32


class Recorder:
    def __init__(self, client: ChainClient):
        self.client = client
        self.calls: dict[str, list[int]] = defaultdict(list)

    def send(
        self, fn: Any, signer: LocalAccount, label: str | None = None, gas: int | None = None
    ) -> Any:
        result = self.client.send(fn, signer, gas=gas)
        self.calls[label or result.action].append(result.gas_used)
        return result

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            name: {"calls": len(v), "mean": statistics.fmean(v), "min": min(v), "max": max(v)}
            for name, v in sorted(self.calls.items())
        }


def _h(text: str) -> bytes:
    from eth_utils import keccak

    return bytes(keccak(text=text))


def run_gas_bench(
    sizes: tuple[int, ...] = (10, 100, 500), say: Callable[[str], None] = print
) -> dict[str, Any]:
    n_max = max(sizes)
    build = compile_contracts()
    keys = dev_private_keys(3 + n_max)
    accounts = [account_from_key(k) for k in keys]
    deployer, sponsor, aggregator = accounts[:3]
    clients = accounts[3:]
    with LocalChain(accounts=3 + n_max) as chain:
        client = ChainClient(chain.rpc_url)
        deployment = deploy_suite(client, deployer, build, SuiteConfig(withdraw_delay=0))
        client = ChainClient(chain.rpc_url, deployment)
        rec = Recorder(client)
        base = client.contract("DevToken")
        registry = client.contract("ClientRegistry")
        vault = client.contract("StakeVault")
        rec.send(base.functions.mint(sponsor.address, 10**9 * WAD), deployer)
        rec.send(base.functions.mint(aggregator.address, 10**6 * WAD), deployer)
        say(f"registering {n_max} clients")
        for i, c in enumerate(tqdm(clients, desc="clients", unit="client")):
            rec.send(base.functions.mint(c.address, 10_000 * WAD), deployer)
            if i % 2 == 0:
                rec.send(base.functions.approve(registry.address, 1_000 * WAD), c)
                rec.send(
                    registry.functions.registerWithOffering(
                        f"Client {i}", f"C{i}", 100_000 * WAD, 1_000 * WAD
                    ),
                    c,
                )
            else:
                rec.send(registry.functions.register(f"Client {i}", f"C{i}"), c)
            rec.send(base.functions.approve(vault.address, 2**255), c)
            rec.send(vault.functions.deposit(2_000 * WAD), c)
        per_size: dict[str, Any] = {}
        for mode, mode_name in ((0, "direct"), (1, "buyback"), (2, "dividend")):
            sizes_here = sizes if mode == 0 else (min(sizes),)
            for n in sizes_here:
                per_size[f"{mode_name}/{n}"] = _task(
                    rec, client, sponsor, aggregator, clients[:n], mode, say
                )
        market = _market_calls(rec, client, clients[0], clients[1])
    direct = {k: v for k, v in per_size.items() if k.startswith("direct/")}
    agg = [v["aggregator_per_round"] for v in direct.values()]
    cli = [v["client_per_round"] for v in direct.values()]
    return {
        "sizes": list(sizes),
        "calls": rec.summary(),
        "rounds": per_size,
        "market": market,
        "targets": {
            "aggregator_within_10pct": (max(agg) - min(agg)) / min(agg) <= 0.10,
            "client_flat_within_10pct": (max(cli) - min(cli)) / min(cli) <= 0.10,
        },
    }


def _task(
    rec: Recorder,
    client: ChainClient,
    sponsor: LocalAccount,
    aggregator: LocalAccount,
    members: list[LocalAccount],
    mode: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    fed = client.contract("Federation")
    escrow = client.contract("RewardEscrow")
    base = client.contract("DevToken")
    n = len(members)
    params = (
        _h("model"), _h("validation"), _h("config"), _h("init"), aggregator.address,
        3600, 3600, 3600, 1, 3600, 86_400, n, n, 2, False, mode,
        10 * WAD, 10 * WAD, 100 * WAD, 10 * WAD, 1_000 * WAD, 10**9 * WAD, WAD // 20, 0, 0,
    )  # fmt: skip
    result = rec.send(fed.functions.createTask(params, "bench"), sponsor)
    task_id = int(fed.events.TaskCreated().process_receipt(result.receipt)[0]["args"]["taskId"])
    rec.send(base.functions.approve(escrow.address, 10**6 * WAD), sponsor)
    rec.send(escrow.functions.fund(task_id, 10**6 * WAD), sponsor)
    rec.send(base.functions.approve(fed.address, 100 * WAD), aggregator)
    rec.send(fed.functions.bondAggregator(task_id, 100 * WAD), aggregator)
    for c in members:
        rec.send(fed.functions.joinTask(task_id), c)
    agg_gas, client_gas, keeper_gas = [], [], []
    # In direct mode, every fifth claimer of round 1 claims it in the transaction of its round-2
    # commit (a multicall), as a node does when the next round is open by then.
    deferred: dict[str, Any] = {}
    for number in (1, 2):
        say(f"mode {mode}, {n} clients, round {number}")
        gas_a = rec.send(
            fed.functions.openRound(task_id), aggregator, "Federation.openRound"
        ).gas_used
        gas_c: defaultdict[str, int] = defaultdict(int)
        updates = [_h(f"{task_id}/{number}/{i}") for i in range(n)]
        for i, c in enumerate(members):
            sealed = commitment_hash(task_id, number, c.address, updates[i], _h(f"salt{i}"))
            commit = fed.functions.commit(task_id, number, sealed, STAKE)
            if c.address in deferred:
                calls = [
                    ChainClient.call_data(deferred.pop(c.address)),
                    ChainClient.call_data(commit),
                ]
                label = "Federation.multicall[claimReward[direct] + commit]"
                gas_c[c.address] += rec.send(fed.functions.multicall(calls), c, label).gas_used
                continue
            gas_c[c.address] += rec.send(commit, c).gas_used
        for i, c in enumerate(members):
            gas_c[c.address] += rec.send(
                fed.functions.reveal(task_id, number, updates[i], _h(f"salt{i}")), c
            ).gas_used
        # Scores: most positive, every fifth negative (burned by the keeper).
        leaves = [
            ResultLeaf(
                task_id,
                number,
                c.address,
                (WAD // 50) * (-1 if i % 5 == 4 else 1),
                0 if i % 5 == 4 else 1_000 * WAD // n,
            )
            for i, c in enumerate(members)
        ]
        tree = MerkleTree.build(leaves)
        total_reward = sum(leaf.reward for leaf in leaves)
        total_payout = sum(max(0, STAKE * (WAD // 50) // WAD) for leaf in leaves if leaf.score > 0)
        post = (_h(f"model{number}"), tree.root, n, n, total_reward, total_payout)
        gas_a += rec.send(fed.functions.postRound(task_id, number, post), aggregator).gas_used
        rpc_call(client.rpc_url, "evm_increaseTime", [2])  # past the 1-s challenge window
        gas_a += rec.send(
            fed.functions.finalizeRound(task_id, number), aggregator, gas=TIME_GATED_GAS
        ).gas_used
        for i, (c, leaf) in enumerate(zip(members, leaves, strict=True)):
            proof = tree.proof(leaf)
            if leaf.reward > 0:
                mode_name = ["direct", "buyback", "dividend"][mode]
                no_market = ", no market" if mode == 1 and i % 2 else ""
                label = f"Federation.claimReward[{mode_name}{no_market}]"
                claim = fed.functions.claimReward(
                    task_id, number, leaf.score, leaf.reward, proof, 0, 2**40
                )
                if mode == 0 and number == 1 and i % 5 == 1:
                    deferred[c.address] = claim
                    continue
                gas_c[c.address] += rec.send(claim, c, label).gas_used
            else:
                keeper_gas.append(
                    rec.send(
                        fed.functions.settleStake(
                            task_id, number, c.address, leaf.score, leaf.reward, proof
                        ),
                        aggregator,
                        "Federation.settleStake[burn]",
                    ).gas_used
                )
        agg_gas.append(gas_a)
        claimers = [c.address for c, leaf in zip(members, leaves, strict=True) if leaf.reward > 0]
        client_gas.append(statistics.fmean(gas_c[a] for a in claimers))
    return {
        "clients": n,
        "aggregator_per_round": statistics.fmean(agg_gas),
        "client_per_round": statistics.fmean(client_gas),
        "keeper_burn_per_client": statistics.fmean(keeper_gas) if keeper_gas else 0,
    }


def _market_calls(
    rec: Recorder, client: ChainClient, seller: LocalAccount, trader: LocalAccount
) -> dict[str, int]:
    registry = client.contract("ClientRegistry")
    base = client.contract("DevToken")
    pool = client.contract("ClientPool", client.call(registry.functions.poolOf(seller.address)))
    token = client.contract("ClientToken", client.call(registry.functions.tokenOf(seller.address)))
    deadline = 2**40
    rec.send(base.functions.approve(pool.address, 2**255), trader)
    rec.send(token.functions.approve(pool.address, 2**255), trader)
    out = {}
    # Every trade in a block of its own second, as on a chain whose blocks are seconds apart: the
    # figures do not depend on whether two calls happened to share a second of the wall clock.
    # A pool's first trade writes its cumulative prices and its first dividend harvest from
    # zero, once in its life: it is recorded apart from a trade in a pool that has traded before.
    _next_second(client)
    buy = pool.functions.swapExactBaseForTokens(10 * WAD, 0, trader.address, deadline)
    out["firstTrade"] = rec.send(buy, trader, label=FIRST_TRADE).gas_used
    _next_second(client)
    out["swapExactBaseForTokens"] = rec.send(buy, trader).gas_used
    bal = int(client.call(token.functions.balanceOf(trader.address)))
    _next_second(client)
    out["swapExactTokensForBase"] = rec.send(
        pool.functions.swapExactTokensForBase(bal // 2, 0, trader.address, deadline), trader
    ).gas_used
    _next_second(client)
    out["holderBuy"] = rec.send(buy, trader, label=HOLDER_BUY).gas_used
    out["addLiquidity"] = rec.send(
        pool.functions.addLiquidity(bal // 4, 10 * WAD, 0, 0, trader.address, deadline), trader
    ).gas_used
    lp = int(client.call(pool.functions.balanceOf(trader.address)))
    out["removeLiquidity"] = rec.send(
        pool.functions.removeLiquidity(lp, 0, 0, trader.address, deadline), trader
    ).gas_used
    out["claimDividend"] = rec.send(token.functions.claimDividend(), seller).gas_used
    vault = client.contract("StakeVault")
    out["requestWithdrawal"] = rec.send(
        vault.functions.requestWithdrawal(10 * WAD), trader
    ).gas_used
    out["withdraw"] = rec.send(vault.functions.withdraw(), trader).gas_used
    return out


def _next_second(client: ChainClient) -> None:
    """The next block gets the latest block's timestamp plus one second."""
    latest = client.request("eth_getBlockByNumber", ["latest", False])
    client.request("evm_setNextBlockTimestamp", [quantity(latest["timestamp"]) + 1])


def to_markdown(result: dict[str, Any]) -> str:
    lines = ["Gas per round as the federation grows (direct mode; 2 rounds per size, mean):", ""]
    lines += [
        "| clients | aggregator per round (open + post + finalize) "
        "| client per round (commit + reveal + claim) | keeper burn per negative client |",
        "|---|---|---|---|",
    ]
    for key, row in result["rounds"].items():
        if key.startswith("direct/"):
            lines.append(
                f"| {row['clients']} | {row['aggregator_per_round']:,.0f} "
                f"| {row['client_per_round']:,.0f} | {row['keeper_burn_per_client']:,.0f} |"
            )
    lines += [
        "",
        "Gas of each call (mean over all calls in the run):",
        "",
        "| call | calls | mean | min | max |",
        "|---|---|---|---|---|",
    ]
    for name, row in result["calls"].items():
        lines.append(
            f"| `{name}` | {row['calls']} | {row['mean']:,.0f} | {row['min']:,} | {row['max']:,} |"
        )
    lines += ["", "Targets: " + ", ".join(f"{k}: {v}" for k, v in result["targets"].items())]
    return "\n".join(lines)
