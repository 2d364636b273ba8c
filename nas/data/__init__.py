"""Data folders loaded into memory as tensors.

A data folder holds exactly one of:

* class sub-folders of PNG/JPEG images (``<folder>/<class>/<file>.png``), all the same size; converted to
  grayscale if every image is grayscale, else RGB; ``x`` is N×C×H×W uint8 (raw pixels 0..255);
* one CSV with a header and a label column (``label`` unless ``label_column`` says otherwise); every other column
  is a numeric feature; ``x`` is N×F float32, raw values (not standardized);
* one ``.npz`` with ``x`` (N×F, N×H×W or N×C×H×W; uint8 stays uint8, other numbers become float32) and
  ``y`` (integer or string labels).

An optional ``dataset.yaml`` beside the data may set ``name``, ``task_type`` (``classification``),
``label_column`` and ``split: {val: 0.15, test: 0.15, seed: 0}`` (the defaults). Hidden files are ignored.

Each sample's split is fixed by a hash of (seed, sample id) — an image's relative path, or a table row's content
hash — so adding data never moves an existing sample to another split. Every validation problem raises
:class:`DataError` with one line naming the file (and row), the problem and the fix.
"""

from nas.data.dataset import Dataset
from nas.data.digits import export_digits
from nas.data.folder import load_data_folder
from nas.data.spec import DatasetSpec, read_spec
from nas.data.splits import assign_splits
from nas.errors import DataError

__all__ = ["DataError", "Dataset", "DatasetSpec", "assign_splits", "export_digits", "load_data_folder", "read_spec"]
