# Source this file to use Brownie and fl-node by hand in a shell:  source tools/env.sh
# (it activates .venv and points py-solc-x at the project's compiler link).
_fl_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$_fl_root/tools/setup.sh" && {
  export SOLCX_BINARY_PATH="$_fl_root/.cache/solcx"
  export FLWR_TELEMETRY_ENABLED="${FLWR_TELEMETRY_ENABLED:-0}"  # Flower's usage events: off
  # shellcheck disable=SC1091
  source "$_fl_root/.venv/bin/activate"
  # fl-node's public networks for `brownie --network fl-sepolia|fl-base-sepolia|fl-arbitrum-sepolia`
  python -m fl_node.toolchain.networks --quiet
}
unset _fl_root
