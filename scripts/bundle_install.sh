#!/bin/sh
# Installs this itflow-bridge bundle into a venv with no network: every wheel it needs is in
# wheels/, pinned with its hash in requirements.txt. Run as root on the PBX:
#   ./install.sh [--venv /opt/itflow-bridge/venv] [-- ARGS...]
# With "--", then runs <venv>/bin/itflow-bridge install ARGS. Installing an older bundle
# into the same venv downgrades (rollback): every version is pinned exactly.
set -eu
# The venv is run by the Asterisk user (daemon, AGI wrappers): readable by all whatever root's umask.
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
VENV=/opt/itflow-bridge/venv
PYTHON=${PYTHON:-python3}
MIN_PYTHON=@MIN_PYTHON@
RUN_INSTALL=no

usage() {
    echo "usage: $0 [--venv DIR] [-- ARGS...]"
    echo "  --venv DIR  the venv to create or update (default /opt/itflow-bridge/venv)"
    echo "  -- ARGS     then run: DIR/bin/itflow-bridge install ARGS"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --venv)
            [ $# -ge 2 ] || { usage >&2; exit 2; }
            VENV=$2
            shift 2
            ;;
        --venv=*)
            VENV=${1#--venv=}
            shift
            ;;
        --)
            shift
            RUN_INSTALL=yes
            break
            ;;
        -h|--help)
            usage
            exit 0
            ;;
        *)
            echo "install.sh: unknown argument '$1' (arguments for 'itflow-bridge install' go after --)" >&2
            usage >&2
            exit 2
            ;;
    esac
done

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "install.sh: $PYTHON not found: install Python $MIN_PYTHON or newer (Debian: apt-get install python3)" >&2
    exit 2
fi
if ! "$PYTHON" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$MIN_PYTHON'.split('.'))))"; then
    echo "install.sh: itflow-bridge needs Python $MIN_PYTHON or newer; $PYTHON is $("$PYTHON" -V 2>&1)" >&2
    exit 2
fi

if [ ! -x "$VENV/bin/python" ]; then
    CREATED=no
    [ -e "$VENV" ] || CREATED=yes
    if ! "$PYTHON" -m venv "$VENV"; then
        # Debian and Ubuntu ship venv's pip bootstrap separately; nothing is fetched here.
        [ "$CREATED" = yes ] && rm -rf "$VENV"
        echo "install.sh: '$PYTHON -m venv' does not work here." >&2
        echo "On Debian 12 / FreePBX 17: apt-get install python3-venv, then run install.sh again." >&2
        exit 2
    fi
fi
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    echo "install.sh: $VENV has no pip: remove it (rm -rf $VENV) and run install.sh again" >&2
    exit 2
fi

# Only the bundle's own files: no index, every file checked against its pinned hash, and the
# host's pip.conf (extra indexes, constraints) left out of it.
PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip install --disable-pip-version-check \
    --no-index --require-hashes --find-links "$HERE/wheels" --requirement "$HERE/requirements.txt"
"$VENV/bin/itflow-bridge" --version

if [ "$RUN_INSTALL" = yes ]; then
    exec "$VENV/bin/itflow-bridge" install "$@"
fi
echo "Next: $VENV/bin/itflow-bridge install --url https://itflow.example.com --api-key KEY"
