"""Build and local-chain tooling: the Solidity compiler link and the local chain process."""
