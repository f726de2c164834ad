"""dockstate's benchmark suite: ``bench/run`` (or ``python -m bench``), see bench/README.md.

Modules: ``harness`` (engine setup and cleanup, the counting proxy, clocks, clients, tables),
``ops`` (operations, their reference events, when a contender shows them), ``contenders``
(the limit and the polling baseline, each a process of its own), ``glances`` (Glances from
PyPI as a contender), and one module per scenario: ``freshness``, ``scale``, ``cost``,
``memory``, ``fanout``, ``burst``, ``wire``.
"""
