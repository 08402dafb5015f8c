"""Training plans: checked before anything runs; the trainer starts from the plan's weights."""
import pytest
import torch

from labkit.data import CornerSquare
from labkit.errors import InputError
from labkit.models import SmallCNN
from labkit.session import TrainingPlan
from labkit.session.recipes import build_trainer, finish_entry, summary, training_splits
from labkit.train import TrainConfig

TINY = {"width": 4, "hidden": 8}


def test_default_names_follow_the_variant() -> None:
    assert TrainingPlan().name == "baseline"
    assert TrainingPlan(variant="random-labels").name == "random-labels"
    assert TrainingPlan(variant="marked", marker=CornerSquare()).name == "shortcut"


def test_a_plan_starts_from_its_initial_weights(pneumonia28) -> None:
    torch.manual_seed(1)
    weights = SmallCNN(**TINY).state_dict()
    trainer = build_trainer(TrainingPlan(model_kwargs=TINY, subset=32, initial_weights=weights), pneumonia28)
    got = trainer.model.state_dict()
    assert all(torch.equal(got[k].cpu(), weights[k]) for k in weights)


def test_subset_then_permuted_labels_and_marked_validation(pneumonia28) -> None:
    train, val = training_splits(TrainingPlan(variant="random-labels", subset=50), pneumonia28)
    assert len(train) == 50 and val is pneumonia28["val"]
    marker = CornerSquare(size=4)
    train, val = training_splits(TrainingPlan(variant="marked", marker=marker), pneumonia28)
    assert train.marker == marker and val.marker == marker


def test_finished_entry_is_scored_and_summarized(pneumonia28) -> None:
    plan = TrainingPlan(name="t", model_kwargs=TINY, subset=64, config=TrainConfig(epochs=1, batch_size=32))
    trainer = build_trainer(plan, pneumonia28)
    trainer.fit()
    entry = finish_entry(plan, trainer, pneumonia28)
    assert entry.clinical("test").n == 624 and 0.0 <= entry.threshold <= 1.0
    assert summary(entry).startswith("t: done after 1 epoch(s); test AUROC")


def test_a_model_that_cannot_take_the_images_is_refused(pneumonia28) -> None:
    with pytest.raises(InputError, match="cannot run on 28×28 images"):
        build_trainer(TrainingPlan(model_kwargs={"width": 0}), pneumonia28)
