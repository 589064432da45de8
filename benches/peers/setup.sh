#!/usr/bin/env bash
# Builds the Python environment for benches/peers/bench.py: PyTorch 2.9.0 (the
# paper's model as reference) and jax-nca 0.1.2 on jax/jaxlib 0.5.3, every
# package pinned in requirements.txt beside this script.
#
#   bash benches/peers/setup.sh
#
# The venv goes to $NCA_PEERS_VENV, or <repo>/target/peers-venv by default.
# $PYTHON picks the interpreter that creates it (default: python3, 3.11 here).
# Running it again is a no-op once the venv is built from the same pins; a
# changed requirements.txt (or a venv that no longer imports) reinstalls.
# torch's Linux wheel on PyPI pulls the nvidia-* CUDA packages (~3 GB); they
# are needed for `import torch` even though the benchmark runs on the CPU.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${NCA_PEERS_VENV:-$repo/target/peers-venv}"
python="${PYTHON:-python3}"
requirements="$here/requirements.txt"
jax_nca_pin="jax-nca==0.1.2"
stamp_file="$venv/.nca-peers-stamp"

stamp="$({ cat "$requirements"; echo "$jax_nca_pin"; } | sha256sum | cut -d' ' -f1)"

check() {
  "$venv/bin/python" - <<'PY'
import torch
import jax
import jax_nca.nca
import jax_nca.trainer
print(f"torch {torch.__version__}, jax {jax.__version__}, jax devices {jax.devices()}")
PY
}

if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]] && check >/dev/null 2>&1; then
  echo "peers venv at $venv is up to date"
  exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
  echo "creating venv at $venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
rm -f "$stamp_file"

pip=("$venv/bin/python" -m pip --disable-pip-version-check)
echo "installing pinned packages (torch pulls ~3 GB of nvidia-* wheels)"
"${pip[@]}" install -r "$requirements"
# jax-nca's metadata also lists tensorflow, opencv-python, ipycanvas,
# matplotlib, orjson and einops; jax_nca.nca and jax_nca.trainer import none of
# them, so it goes in without its dependencies (the ones it imports are pinned
# in requirements.txt).
"${pip[@]}" install --no-deps "$jax_nca_pin"

check
echo "$stamp" >"$stamp_file"
echo "peers venv ready: $venv"
echo "run: $venv/bin/python $here/bench.py"
