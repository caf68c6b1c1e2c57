"""Whole federations on one machine: an embedded chain, real processes, a report."""
