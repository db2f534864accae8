"""``kb serve``: the HTTP API over the same library calls as the command line (see docs/api.md).

Modules: :mod:`~kb.serve.app` (configuration, per-process state, keys on requests, logging),
:mod:`~kb.serve.routes` (the endpoints), :mod:`~kb.serve.stream` (generated answers as
server-sent events), :mod:`~kb.serve.keys` (the key file), :mod:`~kb.serve.access` (who may read
what), :mod:`~kb.serve.limits` (sizes, rates, time), :mod:`~kb.serve.holder` (the open index,
re-opened on a new generation), :mod:`~kb.serve.errors` (one JSON error shape),
:mod:`~kb.serve.run` (starting uvicorn).
"""
