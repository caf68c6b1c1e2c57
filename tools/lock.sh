#!/usr/bin/env bash
# Re-resolves requirements.in into requirements.lock in a throwaway virtualenv: Brownie first, then
# everything else with Brownie's exact pins as constraints (so pip cannot upgrade hexbytes,
# eth-typing or rlp under it), then a full freeze.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
pip=("$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" "$(grep -E '^eth-brownie==' "$root/requirements.in")"
"$tmp/venv/bin/python" -m pip freeze > "$tmp/brownie-pins.txt"
"${pip[@]}" -c "$tmp/brownie-pins.txt" -r "$root/requirements.in"
"$tmp/venv/bin/python" -m pip check
{
  sed -n '1,3p' "$root/requirements.lock"
  "$tmp/venv/bin/python" -m pip freeze --all | grep -vE '^pip==' | sed -E 's/^torch==([0-9.]+)\+cpu$/torch==\1/'
} > "$tmp/lock.txt"
mv "$tmp/lock.txt" "$root/requirements.lock"
echo "requirements.lock updated"
