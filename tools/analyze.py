#!/usr/bin/env python3
"""Slither static analysis of the project's contracts, offline.

    make analyze                         # the usual way (after `make setup`)
    .venv/bin/python tools/analyze.py [--fail-on high] [--slither PATH] [--solc PATH]

crytic-compile cannot drive the tools/solc shim the way it drives a native solc (the shim has no
`--combined-json`), so this script builds the standard-JSON input itself: every .sol file under
contracts/ except contracts/test/, with the compiler settings of brownie-config.yaml (EVM version,
viaIR, optimizer, remappings). Slither compiles it through the shim (`--compile-force-framework
solc-json --solc tools/solc`), so nothing is downloaded: no solc-select, no compiler list.

Findings are kept when at least one of their source locations is in contracts/ outside
contracts/test/ (Slither's --include-paths); findings that lie only in node_modules are dropped.
Writes:
    results/slither.json   Slither's JSON output (paths relative to the project, stable order)
    results/slither.md     the findings by severity, readable
and lists the High and Medium findings whose triage key is not in results/slither-triage.md (the
key, added to each result in slither.json as `triage_key`, hashes the check and the description
without line numbers, so it survives edits elsewhere in a file; Slither's own `id` does not).
Exit status: 0 when the analysis ran (whatever it found, unless --fail-on), 1 when it failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
IMPACTS = ["High", "Medium", "Low", "Informational", "Optimization"]
# Compiler outputs crytic-compile reads (it needs the bytecode and source maps of every contract).
OUTPUTS = ["abi", "metadata", "devdoc", "userdoc", "evm.bytecode", "evm.deployedBytecode"]
WIKI = "https://github.com/crytic/slither/wiki/Detector-Documentation"


def say(message: str) -> None:
    print(f"[analyze] {message}", flush=True)


def sources(root: Path) -> list[Path]:
    """The contracts to analyze: contracts/**/*.sol without contracts/test/."""
    folder = root / "contracts"
    return sorted(p for p in folder.rglob("*.sol") if p.relative_to(folder).parts[0] != "test")


def standard_input(root: Path) -> dict[str, Any]:
    """solc standard-JSON input with brownie-config.yaml's compiler settings."""
    config = yaml.safe_load((root / "brownie-config.yaml").read_text()) or {}
    compiler = config.get("compiler") or {}
    solc = compiler.get("solc") or {}
    optimizer = solc.get("optimizer") or {}
    settings: dict[str, Any] = {
        "optimizer": {
            "enabled": bool(optimizer.get("enabled", False)),
            "runs": int(optimizer.get("runs", 200)),
        },
        "remappings": list(solc.get("remappings") or []),
        "outputSelection": {"*": {"*": OUTPUTS, "": ["ast"]}},
    }
    if compiler.get("evm_version"):
        settings["evmVersion"] = compiler["evm_version"]
    if solc.get("viaIR"):
        settings["viaIR"] = True
    files = sources(root)
    if not files:
        raise SystemExit(f"no .sol files under {root / 'contracts'}")
    return {
        "language": "Solidity",
        "sources": {p.relative_to(root).as_posix(): {"content": p.read_text()} for p in files},
        "settings": settings,
    }


def sources_digest(solc_input: dict[str, Any]) -> str:
    """A short hash of the analyzed sources (names and contents): which code a report saw."""
    h = hashlib.sha256()
    for name, source in sorted(solc_input["sources"].items()):
        h.update(name.encode() + b"\0" + source["content"].encode() + b"\0")
    return h.hexdigest()[:12]


def find_slither(explicit: str | None) -> str:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "slither"
    if beside.is_file():
        return str(beside)
    found = shutil.which("slither")
    if found is None:
        raise SystemExit(
            "slither is not installed: run `make setup` (slither-analyzer is in requirements.lock)"
        )
    return found


def tool_version(command: list[str]) -> str:
    try:
        out = subprocess.run(
            command, capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    match = re.search(r"(\d+\.\d+\.\d+\S*)", out)
    return match.group(1) if match else "?"


def run_slither(slither: str, solc: str, input_file: Path, json_file: Path, log_file: Path) -> None:
    # Keep findings with a location in contracts/ (not contracts/test/). --include-paths, unlike
    # --filter-paths, keeps a finding in our code that also names an OpenZeppelin element (Slither
    # 0.11 drops a result when ANY of its locations matches --filter-paths).
    include = re.escape((ROOT / "contracts").as_posix()) + "/(?!test/)"
    command = [
        slither,
        str(input_file),
        "--compile-force-framework",
        "solc-json",
        "--solc",
        solc,
        "--include-paths",
        include,
        "--fail-none",
        "--json",
        str(json_file),
    ]
    json_file.unlink(missing_ok=True)  # Slither refuses to overwrite its JSON output
    with log_file.open("w") as log:
        proc = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0 or not json_file.is_file():
        tail = log_file.read_text().splitlines()[-40:]
        print("\n".join(tail), file=sys.stderr)
        raise SystemExit(f"slither failed (exit {proc.returncode}); full log: {log_file}")


def _first_location(result: dict[str, Any]) -> tuple[str, int]:
    for element in result.get("elements", []):
        mapping = element.get("source_mapping") or {}
        if mapping.get("filename_relative"):
            lines = mapping.get("lines") or [0]
            return mapping["filename_relative"], lines[0]
    return "", 0


def _sort_key(result: dict[str, Any]) -> tuple[int, str, str, int, str]:
    impact = IMPACTS.index(result["impact"]) if result["impact"] in IMPACTS else len(IMPACTS)
    return (impact, result["check"], *_first_location(result), result["id"])


def normalize(raw: str) -> dict[str, Any]:
    """Slither's JSON with project-relative paths and findings in a stable order."""
    data: dict[str, Any] = json.loads(raw.replace(ROOT.as_posix() + "/", ""))
    detectors = data.get("results", {}).get("detectors", [])
    detectors.sort(key=_sort_key)
    for result in detectors:
        result["triage_key"] = triage_key(result)
    return data


def dump(data: dict[str, Any]) -> str:
    """JSON with one finding per line: diffable, and a fifth of Slither's indented size."""
    detectors = data.get("results", {}).get("detectors", [])
    marker = "__DETECTORS__"
    outer = dict(data)
    outer["results"] = {**data.get("results", {}), "detectors": marker}
    body = ",\n".join("  " + json.dumps(r, separators=(",", ":")) for r in detectors)
    return json.dumps(outer).replace(json.dumps(marker), "[\n" + body + "\n]") + "\n"


def triaged_ids(triage_file: Path) -> set[str]:
    if not triage_file.is_file():
        return set()
    return set(re.findall(r"\b[0-9a-f]{10}\b", triage_file.read_text()))


def triage_key(result: dict[str, Any]) -> str:
    """10 hex digits naming a finding in the triage: the check and the description without line
    numbers, so it survives edits elsewhere in the file (Slither's own id includes the lines)."""
    text = re.sub(r"#\d+(-\d+)?", "", result["description"])
    return hashlib.sha256(f"{result['check']}\n{text}".encode()).hexdigest()[:10]


def markdown(data: dict[str, Any], meta: dict[str, str], triaged: set[str]) -> str:
    detectors = data.get("results", {}).get("detectors", [])
    counts = {impact: sum(1 for r in detectors if r["impact"] == impact) for impact in IMPACTS}
    out: list[str] = []
    out.append("# Slither: static analysis of the contracts\n")
    out.append(
        "Generated by `make analyze` (tools/analyze.py); do not edit by hand. Triage of the High, "
        "Medium and Low findings: [slither-triage.md](slither-triage.md).\n"
    )
    out.append(f"- Slither {meta['slither']}, solc {meta['solc']} (tools/solc), {meta['settings']}")
    out.append(
        f"- Analyzed: {meta['files']} files of contracts/ (contracts/test/ and node_modules "
        f"excluded), sources digest `{meta['digest']}`"
    )
    out.append(f"- Run: {meta['date']}, {meta['seconds']} s\n")
    out.append("| Severity | Findings |")
    out.append("| --- | ---: |")
    for impact in IMPACTS:
        out.append(f"| {impact} | {counts[impact]} |")
    out.append(f"| **Total** | **{len(detectors)}** |\n")
    if detectors:
        out.append(
            "Key: `triage_key` in slither.json, a hash of the check and the finding's text "
            "without line numbers (it changes only when the flagged code changes). Triaged: the "
            "key appears in slither-triage.md (every High and Medium finding must be).\n"
        )
    for impact in IMPACTS:
        group = [r for r in detectors if r["impact"] == impact]
        if not group:
            continue
        out.append(f"## {impact} ({len(group)})\n")
        checks: dict[str, list[dict[str, Any]]] = {}
        for r in group:
            checks.setdefault(r["check"], []).append(r)
        for check, results in checks.items():
            out.append(f"### {check} ({len(results)})\n")
            out.append(f"Detector documentation: {WIKI}#{check}\n")
            for r in results:
                file, line = _first_location(r)
                mark = "triaged" if triage_key(r) in triaged else "not triaged"
                out.append(
                    f"- `{triage_key(r)}` ({r['confidence']} confidence, {mark}) {file}#{line}"
                )
                body = r["description"].strip().replace("\t", "    ")
                out.append("")
                out.append("  ```text")
                out.extend("  " + text for text in body.splitlines())
                out.append("  ```")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--slither", help="slither executable (default: beside this Python, else PATH)"
    )
    parser.add_argument(
        "--solc", default=str(ROOT / "tools" / "solc"), help="solc executable (default: tools/solc)"
    )
    parser.add_argument(
        "--out", default=str(ROOT / "results"), help="output folder (default: results/)"
    )
    parser.add_argument(
        "--fail-on",
        choices=["none", "low", "medium", "high"],
        default="none",
        help="exit 2 when a finding of this severity or higher is not triaged (default: none)",
    )
    args = parser.parse_args()

    slither = find_slither(args.slither)
    solc = str(Path(args.solc).resolve())
    out_dir = Path(args.out)
    work = ROOT / ".cache" / "slither"
    work.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)

    solc_input = standard_input(ROOT)
    input_file = work / "standard-input.json"
    input_file.write_text(json.dumps(solc_input, indent=1))
    settings = solc_input["settings"]
    optimizer = settings["optimizer"]
    setting_text = (
        f"evmVersion {settings.get('evmVersion', 'default')}, viaIR {bool(settings.get('viaIR'))}, "
        f"optimizer {'on' if optimizer['enabled'] else 'off'} ({optimizer['runs']} runs)"
    )
    files = len(solc_input["sources"])
    say(f"{files} files of contracts/, {setting_text}: compiling and analyzing (30-90 s)")

    started = time.monotonic()
    raw_json = work / "slither-raw.json"
    run_slither(slither, solc, input_file, raw_json, work / "slither.log")
    seconds = time.monotonic() - started

    data = normalize(raw_json.read_text())
    if not data.get("success", False):
        raise SystemExit(f"slither reported an error: {data.get('error')}")
    (out_dir / "slither.json").write_text(dump(data))

    triaged = triaged_ids(out_dir / "slither-triage.md")
    meta = {
        "slither": tool_version([slither, "--version"]),
        "solc": tool_version([solc, "--version"]),
        "settings": setting_text,
        "files": str(files),
        "digest": sources_digest(solc_input),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": f"{seconds:.0f}",
    }
    (out_dir / "slither.md").write_text(markdown(data, meta, triaged))

    detectors = data.get("results", {}).get("detectors", [])
    summary = ", ".join(
        f"{impact} {sum(1 for r in detectors if r['impact'] == impact)}" for impact in IMPACTS
    )
    say(f"{len(detectors)} findings ({summary}) in {seconds:.0f} s")
    say(f"wrote {out_dir / 'slither.json'} and {out_dir / 'slither.md'}")

    untriaged = [
        r for r in detectors if r["impact"] in ("High", "Medium") and triage_key(r) not in triaged
    ]
    for r in untriaged:
        file, line = _first_location(r)
        say(f"not triaged: {r['impact']} {r['check']} {triage_key(r)} at {file}#{line}")
    if untriaged:
        say(f"{len(untriaged)} High/Medium findings are not in {out_dir / 'slither-triage.md'}")

    if args.fail_on != "none":
        levels = IMPACTS[: IMPACTS.index(args.fail_on.capitalize()) + 1]
        failing = [r for r in detectors if r["impact"] in levels and triage_key(r) not in triaged]
        if failing:
            say(f"--fail-on {args.fail_on}: {len(failing)} untriaged findings at or above it")
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
