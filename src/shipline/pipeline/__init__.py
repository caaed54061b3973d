"""The training pipeline: steps, cache keys, runner, run records, lineage."""

from shipline.pipeline.run_record import RunRecord, StepRecord, get_run, list_runs, previous_step
from shipline.pipeline.training_pipeline import STEPS, step_names
from shipline.pipeline.training_run import run_training

__all__ = [
    "STEPS",
    "RunRecord",
    "StepRecord",
    "get_run",
    "list_runs",
    "previous_step",
    "run_training",
    "step_names",
]
