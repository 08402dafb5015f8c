"""Training loop, predictions and clinical metrics."""
from labkit.train.metrics import ClinicalMetrics, Predictions, choose_threshold, clinical_metrics, evaluate, predict
from labkit.train.trainer import BatchInfo, EpochRecord, History, TrainConfig, Trainer, random_shift

__all__ = ["Trainer", "TrainConfig", "History", "EpochRecord", "BatchInfo", "random_shift", "evaluate", "predict",
           "Predictions", "ClinicalMetrics", "clinical_metrics", "choose_threshold"]
