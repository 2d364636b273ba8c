"""The full NAS-Bench-201 count (all 15,625 cells): minutes of tracing, so it runs only when asked.

Run it with ``NASFLOW_NB201_FULL=1 python -m pytest tests/nas/layers/test_nb201_full_count.py``. The sampled
checks in test_fingerprint.py run every time.
"""

from __future__ import annotations

import os

import pytest

from tests.nas.layers.nb201_count import count_distinct

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("NASFLOW_NB201_FULL"), reason="set NASFLOW_NB201_FULL=1 to count all 15,625 cells"
    ),
]


def test_all_nb201_cells_give_as_many_fingerprints_as_distinct_functions() -> None:
    assert count_distinct() == 5485  # = reference_key's count; NAS-Bench-201's own unique strings give 6,466
