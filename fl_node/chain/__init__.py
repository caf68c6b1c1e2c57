"""Chain access with web3.py: deployments, signing, robust transactions and event polling."""
