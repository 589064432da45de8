#!/usr/bin/env bash
# The backend suite on LibTorch (cargo feature `tch`), which burn 0.22.1 builds against PyTorch 2.9.0.
#
# Builds once a Python venv with torch==2.9.0 from PyPI (PyPI's Linux wheel is a CUDA build: with
# its nvidia-* packages about 3 GB; it runs on the CPU too), lets torch-sys link that libtorch
# (LIBTORCH_USE_PYTORCH=1) and runs the suite: every CPU backend plus tch, with parity to flex.
# The venv is shared with benches/peers/setup.sh (same PyTorch): NCA_PEERS_VENV, or target/peers-venv.
# Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${NCA_PEERS_VENV:-target/peers-venv}"
has_torch() {
  "$venv/bin/python" -c 'import sys, torch; sys.exit(torch.__version__.split("+")[0] != "2.9.0")' 2>/dev/null
}
if ! has_torch; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch==2.9.0
fi

VIRTUAL_ENV="$(cd "$venv" && pwd)"
torch_lib="$("$VIRTUAL_ENV/bin/python" -c 'import pathlib, torch; print(pathlib.Path(torch.__file__).parent / "lib")')"
export VIRTUAL_ENV LIBTORCH_USE_PYTORCH=1
export PATH="$VIRTUAL_ENV/bin:$PATH"
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

cargo test -p nca-tests --features tch --test backends "$@"
