"""The federation runtime: the round state machine as seen from Python, and its daemons.

``protocol`` reads and drives the contracts; ``engine`` is one round's computation as a pure
function; ``node`` and ``aggregator`` are the participant and coordinator loops.
"""
