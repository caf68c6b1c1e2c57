"""Tests of the Flower integration (skipped where Flower is not installed)."""

import os

# Flower sends anonymous usage events unless told not to; tests stay off the network.
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
