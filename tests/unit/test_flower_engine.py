"""How fl-node runs Flower's simulation engine (:mod:`fl_node.flower.engine`): one Ray actor per
core unless told, never more than the SuperNodes, one CPU each."""

from __future__ import annotations

from fl_node.flower.engine import backend_config, simulation_actors


def test_one_actor_per_core_unless_told_and_never_more_than_the_nodes() -> None:
    assert simulation_actors(32, cores=2) == 2
    assert simulation_actors(3, cores=8) == 3  # no idle actors
    assert simulation_actors(32, asked=4, cores=2) == 4  # asked wins over the cores
    assert simulation_actors(2, asked=4) == 2
    assert simulation_actors(1, cores=0) == 1  # an unknown core count still runs one


def test_each_actor_takes_one_cpu_slot() -> None:
    config = backend_config(3)
    assert config["init_args"]["num_cpus"] == 3
    assert config["client_resources"] == {"num_cpus": 1, "num_gpus": 0.0}
    assert config["init_args"]["include_dashboard"] is False
