"""Local training: datasets, client partitions, models, parameters, SGD and quality knobs.

Everything here is deterministic given its seed, so every participant of a task derives the same
data split, partition and initial model, and a client re-derives the same update after a restart.
"""
