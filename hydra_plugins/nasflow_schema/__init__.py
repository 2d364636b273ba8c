"""Registers nasflow's config schema (``nasflow_schema``) in Hydra's ConfigStore when Hydra scans its plugins.

Hydra imports every module under the ``hydra_plugins`` namespace when its plugins are first loaded, and DVC's
Hydra composition (``dvc exp run`` with ``hydra.enabled``) loads them before it composes ``conf/``; so
``conf/config.yaml``'s defaults list, which starts with ``nasflow_schema``, composes in DVC's process too.
"""

from workflows.schema import register_schemas

register_schemas()
