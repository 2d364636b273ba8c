"""nasflow's benchmarks: search quality (NAS-Bench-201), training throughput, cost per trial, parallel workers,
start-up and knowledge-base queries.

Measures the packages from outside, as a user would: it may import ``nas``, ``knowledge_base`` and ``workflows``
(and run the ``nasflow`` command); none of them imports it (``tests/test_import_rules.py``). What each part measures
and how it is scored: ``benchmarks/README.md``.
"""
