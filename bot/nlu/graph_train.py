"""Train one Rasa 3.6 model the way `rasa train` does, without Rasa's training cache.

`rasa.model_training` runs every graph node under a `TrainingHook` that fingerprints the node's inputs
and output for its cache in `~/.rasa/cache`: after each featurizer that means every training message's
sparse features written out as text (`sparse_matrix_to_string`) and hashed, over and over. callbot never
uses that cache (`callbot train` fingerprints whole projects and reuses whole archives, bot.train), so the
graph runs here with Rasa's logging hook only; the recipe, the validation, the components and the
packaged archive are Rasa's own, the same as `rasa.model_training.train` / `train_nlu` make.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from pathlib import Path

from rasa.engine.constants import PLACEHOLDER_IMPORTER
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.recipe import Recipe
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.training.hooks import LoggingHook
from rasa.engine.validation import validate
from rasa.model_training import get_unresolved_slots
from rasa.shared.data import TrainingType
from rasa.shared.importers.importer import TrainingDataImporter

from bot.nlu import rasa_speedups

logger = logging.getLogger(__name__)


class GraphTrainingError(Exception):
    """The project has no data Rasa can train on."""


def train_model(config: Path, data: Path, output: Path, domain: Path | None = None) -> Path:
    """Train `data` (a folder or file of Rasa training data) with `config` into the archive `output`.

    With `domain` the model is a full one (NLU and, when there are stories or rules, dialogue policies),
    as `rasa train`; without, NLU only, as `rasa train nlu`."""
    if domain is None:
        importer = TrainingDataImporter.load_nlu_importer_from_config(
            str(config), training_data_paths=[str(data)]
        )
        training_type = TrainingType.NLU
    else:
        importer = TrainingDataImporter.load_from_config(str(config), str(domain), [str(data)])
        training_type = _training_type(importer)
        unresolved = get_unresolved_slots(importer.get_domain(), importer.get_stories())
        if unresolved:
            raise GraphTrainingError(f"{domain}: stories or rules set slots the domain lacks: {unresolved}")
    if training_type == TrainingType.NLU and importer.get_nlu_data().contains_no_pure_nlu_data():
        raise GraphTrainingError(f"{data}: no NLU training examples")
    config_dict = importer.get_config()
    recipe = Recipe.recipe_for_name(config_dict.get("recipe"))
    config_dict, _, _ = recipe.auto_configure(
        importer.get_config_file_for_auto_config(), config_dict, training_type
    )
    model_configuration = recipe.graph_config_for_recipe(config_dict, {}, training_type=training_type)
    validate(model_configuration)
    rasa_speedups.install()
    # The domain as it was before any node ran (Rasa's GraphTrainer does the same).
    domain_object = copy.deepcopy(importer.get_domain())
    schema = model_configuration.train_schema
    with tempfile.TemporaryDirectory(prefix="callbot-rasa-") as tmp:
        storage = LocalModelStorage(Path(tmp))
        runner = DaskGraphRunner.create(
            graph_schema=schema,
            model_storage=storage,
            execution_context=ExecutionContext(graph_schema=schema),
            hooks=[LoggingHook(pruned_schema=schema)],
        )
        runner.run(inputs={PLACEHOLDER_IMPORTER: importer})
        storage.create_model_package(output, model_configuration, domain_object)
    return output


def _training_type(importer: TrainingDataImporter) -> TrainingType:
    """What `rasa train` would train: NLU and dialogue, or NLU alone without stories and rules."""
    stories = importer.get_stories()
    nlu = importer.get_nlu_data()
    if stories.is_empty() and nlu.contains_no_pure_nlu_data():
        raise GraphTrainingError("no training data: neither NLU examples nor stories/rules")
    if importer.get_domain().is_empty() or stories.is_empty():
        return TrainingType.NLU
    if nlu.has_e2e_examples():
        return TrainingType.END_TO_END
    if nlu.contains_no_pure_nlu_data():
        return TrainingType.CORE
    return TrainingType.BOTH
