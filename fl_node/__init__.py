"""fl-node: federated learning where every participant has its own tradeable token.

Training stays off-chain (PyTorch); update hashes, contribution scores, stakes, rewards and the
global model's lineage are settled on-chain by the contracts in ``contracts/``.
"""

__version__ = "0.1.0"
