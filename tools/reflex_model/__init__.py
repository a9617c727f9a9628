"""reflex_model: the PyTorch reference of reflex's multi-exit policy and its bundle format
(docs/MODEL_FORMAT.md), fixtures for the Swift engine, and benchmark helpers."""
from .bundle import calibration_distances, read_bundle, read_calibration, round_to_storage, write_bundle
from .cost import cost_model
from .network import Dims, ReflexNet, StepResult, split_words, tensor_shapes, thresholds_rule, tokenize

__all__ = ["ReflexNet", "Dims", "StepResult", "tokenize", "split_words", "tensor_shapes",
           "thresholds_rule", "cost_model", "write_bundle", "read_bundle", "read_calibration",
           "calibration_distances", "round_to_storage"]
