"""Data folders: images in class sub-folders, a CSV table or an ``.npz``, loaded into memory as tensors.

``load_data_folder`` validates the folder (one clear :class:`DataError` naming the file and the fix), splits it
deterministically by a hash of each sample's id, and computes a content hash and task meta-features;
``export_digits`` writes scikit-learn's bundled digits as such a folder.
"""

from nas.data.dataset import Dataset
from nas.data.digits import export_digits
from nas.data.folder import load_data_folder
from nas.data.spec import DatasetSpec, read_spec
from nas.data.splits import assign_splits
from nas.errors import DataError

__all__ = ["DataError", "Dataset", "DatasetSpec", "assign_splits", "export_digits", "load_data_folder", "read_spec"]
