"""nasflow's search library: spaces from model files, data folders, training, the Optuna search, retraining.

Owns search spaces (extraction from a model file, the YAML round trip), building a model from sampled params, data
folders, the training loop, the Optuna study and objective (locks, journals, budgets, first trials), retraining,
model costs and architecture fingerprints. Plain Python on torch, optuna and numpy: it never imports Hydra, MLflow,
DVC, ``knowledge_base`` or ``workflows`` (``tests/test_import_rules.py``); tracking reaches a search through the
:class:`SearchObserver` callbacks that ``workflows`` implements.
"""

from nas.augment import augment
from nas.constraints import Constraints
from nas.cost import ModelCost, measure_cost
from nas.data import Dataset, export_digits, load_data_folder
from nas.device import DeviceError, device_name, resolve_device
from nas.errors import (
    BudgetError,
    DataError,
    ModelFileError,
    NasError,
    SearchError,
    SettingsError,
    SpaceError,
    SplitError,
    TrainSettingsError,
)
from nas.export import export_standalone, load_exported
from nas.extract import make_factory
from nas.factory import ConstructorFactory, DataShape, ModelFactory
from nas.fingerprint import fingerprint
from nas.model_file import ModelSpec, constructor_value, load_model_class
from nas.normalize import Normalized, input_stats, normalized_factory
from nas.observer import Observers, SearchObserver, TrialResult
from nas.proxy import SynflowScore, make_score, synflow
from nas.retrain import RetrainResult, retrain
from nas.samplers import LocalSearchSampler
from nas.search import Evaluator, Reused, TrainingEvaluator, fingerprint_key, params_key, run_search, settings_key
from nas.selection import best_params, pareto_front, pruning_report, select_trial, trial_by_number
from nas.space import Dimension, SearchSpace
from nas.study import SearchSettings, open_existing_study, open_study
from nas.training import TrainSettings, evaluate, train

__all__ = [
    "Constraints",
    "ConstructorFactory",
    "BudgetError",
    "DataError",
    "SplitError",
    "TrainSettingsError",
    "DataShape",
    "Dataset",
    "DeviceError",
    "Dimension",
    "Evaluator",
    "LocalSearchSampler",
    "ModelCost",
    "ModelFactory",
    "ModelFileError",
    "ModelSpec",
    "NasError",
    "Normalized",
    "Observers",
    "RetrainResult",
    "Reused",
    "SearchError",
    "SettingsError",
    "SearchObserver",
    "SearchSettings",
    "SearchSpace",
    "SpaceError",
    "SynflowScore",
    "TrainSettings",
    "TrainingEvaluator",
    "TrialResult",
    "augment",
    "best_params",
    "constructor_value",
    "device_name",
    "evaluate",
    "export_digits",
    "export_standalone",
    "fingerprint",
    "fingerprint_key",
    "input_stats",
    "load_data_folder",
    "load_exported",
    "load_model_class",
    "make_factory",
    "make_score",
    "measure_cost",
    "normalized_factory",
    "open_existing_study",
    "open_study",
    "params_key",
    "pareto_front",
    "pruning_report",
    "resolve_device",
    "retrain",
    "run_search",
    "select_trial",
    "settings_key",
    "synflow",
    "train",
    "trial_by_number",
]
