#!/usr/bin/env bash
# Installs everything the project needs into the project's own folders, from the project's own
# pinned files, and does nothing when all is already installed:
#   .venv/         Python packages of requirements.lock + this package (editable)
#   node_modules/  npm packages of package-lock.json (solc-js, OpenZeppelin, Anvil)
#   .cache/solcx/  the solc-v0.8.37 link py-solc-x and Brownie use (native solc if present, else
#                  the tools/solc shim over solc-js)
#   .venv/bin/anvil  a link to the real Anvil binary, for `brownie --network anvil`
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

hash_files() { cat "$@" | sha256sum | cut -d' ' -f1; }

# pip on some machines is configured with local index folders that do not list every package;
# its "Location ... is ignored" warnings are noise, anything else it says is kept.
quiet_pip() { "$venv/bin/python" -m pip "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }

# --- tools this machine must have -------------------------------------------------------------
pick_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.11 python3 python; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}
python_bin="$(pick_python)" || die "Python 3.11 or 3.12 is required (python3.11 preferred: torch 2.13.0's CPU wheel is built for it). Install it and run this again, or set PYTHON=/path/to/python3.11."
"$python_bin" -c 'import venv, ensurepip' 2>/dev/null || die "$python_bin has no venv/ensurepip module: install your distribution's python3-venv package."
command -v node >/dev/null 2>&1 || die "Node.js is required (>= 18) for the Solidity compiler and Anvil: install node and npm (Debian: apt-get install nodejs npm)."
command -v npm >/dev/null 2>&1 || die "npm is required beside node: install npm (Debian: apt-get install npm)."
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || die "Node.js >= 18 is required, found $(node --version)."

# --- Python packages --------------------------------------------------------------------------
venv="$root/.venv"
py_stamp="$venv/.fl-node-installed"
py_hash="$(hash_files requirements.lock pyproject.toml)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$py_stamp" 2>/dev/null)" != "$py_hash" ]; then
  say "installing Python packages into .venv (first run: about 2 minutes)"
  [ -x "$venv/bin/python" ] || "$python_bin" -m venv "$venv"
  pip_flags=(--disable-pip-version-check --no-input)
  [ -n "${CI:-}" ] && pip_flags+=(--progress-bar off)
  quiet_pip install "${pip_flags[@]}" -q -r requirements.lock \
    || die "pip could not install requirements.lock (is PyPI reachable?)"
  quiet_pip install "${pip_flags[@]}" -q --no-deps --no-build-isolation -e . \
    || die "pip could not install the fl_node package itself"
  "$venv/bin/python" -m pip check >/dev/null || { "$venv/bin/python" -m pip check; die "installed Python packages conflict"; }
  echo "$py_hash" > "$py_stamp"
fi

# --- npm packages -----------------------------------------------------------------------------
nm_stamp="$root/node_modules/.fl-node-installed"
nm_hash="$(hash_files package.json package-lock.json)"
if [ "$(cat "$nm_stamp" 2>/dev/null)" != "$nm_hash" ]; then
  say "installing npm packages into node_modules (solc-js, OpenZeppelin, Anvil)"
  # `npm install` with the committed lock installs exactly its versions. (`npm ci` refuses this
  # lock: @foundry-rs/anvil lists every platform's binary package as optional, and the registry
  # this machine reaches has only some of them, so the lock records only this platform's.)
  npm install --no-save --no-audit --no-fund --loglevel=error >/dev/null \
    || die "npm install failed (is the npm registry reachable?)"
  echo "$nm_hash" > "$nm_stamp"
fi

# --- Anvil on PATH for Brownie (the real binary, so its PID is Anvil's) ------------------------
anvil_bin="$(ls "$root"/node_modules/@foundry-rs/anvil-*/bin/anvil 2>/dev/null | head -n 1 || true)"
[ -n "$anvil_bin" ] || die "npm installed @foundry-rs/anvil but no binary for this platform ($(uname -sm)); set FL_ANVIL_BIN to an anvil binary"
if [ "$(readlink "$venv/bin/anvil" 2>/dev/null)" != "$anvil_bin" ]; then
  ln -sfn "$anvil_bin" "$venv/bin/anvil"
fi

# --- the Solidity compiler link ---------------------------------------------------------------
export SOLCX_BINARY_PATH="$root/.cache/solcx"
link="$SOLCX_BINARY_PATH/solc-v0.8.37"
if [ ! -e "$link" ] || [ -n "${FL_RELINK_SOLC:-}" ]; then
  "$venv/bin/python" -m fl_node.toolchain.solc || die "could not set up the Solidity compiler"
fi
