"""Bad input to the federation commands ends in one clear ``error:`` line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fl_node.cli import main
from fl_node.config import TaskConfig
from fl_node.configs import load_config
from fl_node.errors import ConfigError
from fl_node.toolchain.localchain import free_port


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    assert "Traceback" not in err
    return err


def test_unknown_config_lists_the_bundled_ones(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(
        capsys, ["node", "--config", "nope", "--task", "1", "--index", "0", "--dev-account", "3"]
    )
    assert "demo" in err and "tiny" in err


def test_config_file_errors_name_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("federation: {rounds: 0}\n")
    with pytest.raises(ConfigError, match=r"federation\.rounds"):
        load_config(bad)
    bad.write_text("federation: {roundz: 3}\n")
    with pytest.raises(ConfigError, match="roundz"):
        load_config(bad)
    bad.write_text("federation: {rounds: three}\n")
    with pytest.raises(ConfigError, match="integer"):
        load_config(bad)
    bad.write_text("clients: [{behavior: honest}]\nfederation: {max_clients: 0}\n")
    with pytest.raises(ConfigError, match="max_clients"):
        load_config(bad)
    bad.write_text(": : :\n")
    with pytest.raises(ConfigError, match="YAML"):
        load_config(bad)


def test_client_index_outside_the_task(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(
        capsys, ["node", "--config", "tiny", "--task", "1", "--index", "7", "--dev-account", "3"]
    )
    assert "outside 0..2" in err


def test_node_against_a_dead_rpc(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    err = _error(
        capsys,
        [
            "node",
            "--rpc",
            url,
            "--config",
            "tiny",
            "--task",
            "1",
            "--index",
            "0",
            "--dev-account",
            "3",
        ],
    )
    assert "cannot reach the chain" in err


def test_audit_of_a_folder_that_is_not_a_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    err = _error(capsys, ["audit", "--run", str(tmp_path), "--all"])
    assert "not a finished run folder" in err


def test_demo_rejects_zero_rounds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--rounds", "0"])
    assert "must be >= 1" in capsys.readouterr().err


def test_config_round_trips_through_yaml(tmp_path: Path) -> None:
    config = load_config("demo")
    path = config.save(tmp_path / "c.yaml")
    assert TaskConfig.load(path) == config


@pytest.mark.parametrize(
    ("section", "change", "message"),
    [
        (
            "aggregation",
            {"strategy": "medain"},
            "aggregation.strategy 'medain' is not one of fedavg, krum, median, reputation, "
            "trimmed_mean",
        ),
        ("scoring", {"method": "shapley"}, "scoring.method 'shapley' is not one of loo,"),
        ("federation", {"mode": "airdrop"}, "federation.mode 'airdrop' is not one of direct,"),
        ("federation", {"roundz": 3}, "federation: unknown setting 'roundz'"),
        (None, {"sponsor": "me"}, "unknown setting 'sponsor'"),
    ],
)
def test_task_create_refuses_a_bad_config_before_the_chain(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    section: str | None,
    change: dict[str, object],
    message: str,
) -> None:
    import fl_node.commands.task as task_command

    def untouched(*args: object, **kwargs: object) -> None:
        raise AssertionError("the chain was touched with a bad config")

    monkeypatch.setattr(task_command, "connect", untouched)
    monkeypatch.setattr("fl_node.federation.sponsor.create_task", untouched)
    data = load_config("tiny").to_dict()
    if section is None:
        data.update(change)
    else:
        data[section] = {**data[section], **change}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    err = _error(
        capsys,
        ["task", "create", "--rpc", f"http://127.0.0.1:{free_port()}", "--dev-account", "1",
         "--config", str(path), "--store", f"file://{tmp_path / 'store'}",
         "--aggregator", "0x" + "11" * 20],
    )  # fmt: skip
    assert err.startswith(f"error: config {path}: {message}"), err
    assert err.count("\n") == 1 and err.endswith("\n")  # one line
    assert not (tmp_path / "store").exists()  # nothing uploaded, nothing created or funded
