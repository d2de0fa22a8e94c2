#!/bin/bash
# result-dir.sh BASE: where the runs of BASE with KERNEL and FLAVOUR put results.
set -eu
. "$(dirname "$0")/lib.sh"
result_dir "${1:?usage: result-dir.sh BASE}" "$KERNEL" "$FLAVOUR"
