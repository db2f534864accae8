#!/usr/bin/env bash
# Run the product: the search web UI on http://localhost:8501
#
#   ./run.sh                       # set up (first time), index corpus/ if needed, start the UI
#   ./run.sh --server.port 8600    # extra arguments go to `streamlit run`
#
# Idempotent: the virtual environment (.venv), the installed project and the index are reused
# when they are up to date, so a second run starts in a few seconds.
# Environment: PYTHON (interpreter for a new .venv, default python3), KB_INDEX (index folder,
# default index/), KB_CORPUS (report folder, default corpus/).
set -euo pipefail

cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
VENV=.venv
export KB_INDEX="${KB_INDEX:-index}"
CORPUS="${KB_CORPUS:-corpus}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
# Messages are in Swedish, as the UI is.

# 1. virtual environment
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "run.sh: Python 3.11 eller nyare behövs (provade '$PYTHON'); sätt PYTHON=/sökväg/till/python3.11" >&2
        exit 1
    fi
    say "Skapar den virtuella Python-miljön i $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

# 2. the project and its UI dependencies (again only when pyproject.toml changed)
STAMP="$VENV/.kb-installed"
WANT="$(cksum < pyproject.toml)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ] \
    || ! "$PY" -c 'import kb, streamlit, pandas' >/dev/null 2>&1; then
    say "Installerar kb och webbgränssnittet (första gången tar det några minuter: modellbiblioteken är stora)"
    "$PY" -m pip install --disable-pip-version-check -q --upgrade pip
    "$PY" -m pip install --disable-pip-version-check -q -e '.[ui]'
    printf '%s' "$WANT" > "$STAMP"
fi

# 3. the index: built when missing, refreshed when the reports changed, else a quick no-op
if [ -d "$CORPUS" ]; then
    say "Kontrollerar sökindexet $KB_INDEX mot rapporterna i $CORPUS/"
    # a first build of the bundled reports takes 4–5 minutes on an idle 2-core machine, about 8 when
    # it is busy (measured 2026-12-03: 466 s of embedding); a check of an up-to-date index, under a second
    "$PY" -m kb.ui_build "$CORPUS" "$KB_INDEX"
else
    echo "run.sh: hittar ingen mapp med rapporter ('$CORPUS'); webbgränssnittet startar utan att bygga ett sökindex" >&2
fi

# 4. the UI, on this machine only
say "Startar sökgränssnittet, normalt på http://localhost:8501 (avsluta med Ctrl+C)"
exec "$VENV/bin/streamlit" run app.py \
    --server.address localhost \
    --browser.gatherUsageStats false \
    "$@"
