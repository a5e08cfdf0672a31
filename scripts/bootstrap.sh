# Sourced by ./run-demo and ./run-tests: make .venv with the project installed, once.
# Re-runs pip only when pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ITFLOW_BRIDGE_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null; then
    echo "itflow-bridge needs Python 3.9 or newer as '$PYTHON'" >&2
    exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # Debian/Ubuntu ship venv separately.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            rm -rf "$VENV"
            "$PYTHON" -m venv "$VENV"
        else
            echo "cannot create a virtualenv: install python3-venv (apt-get install python3-venv)" >&2
            exit 2
        fi
    fi
fi
STAMP="$VENV/.itflow-bridge-installed"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[test]"
    touch "$STAMP"
fi
