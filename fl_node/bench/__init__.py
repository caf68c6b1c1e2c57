"""Benchmarks: commands that measure and print figures and write them to ``results/``."""
