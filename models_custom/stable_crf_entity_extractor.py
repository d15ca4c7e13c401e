"""Rasa's CRFEntityExtractor, trained without touching the shared training data.

Rasa's `CRFEntityExtractor.train` writes BILOU tags into every training message it is
given. Those messages are the same objects the components after it receive, so their
input fingerprints differ from the ones `rasa train` sees when the CRF comes from the
cache: every second `rasa train` of an unchanged project retrains EntitySynonymMapper
and our LoRA classifier, and `rasa train --dry-run` says the model is stale right after
training. Training on a copy keeps Rasa's fingerprinting exact.
"""
from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
from rasa.shared.nlu.training_data.training_data import TrainingData


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class StableCRFEntityExtractor(CRFEntityExtractor):
    """`CRFEntityExtractor` that leaves its training data as it found it."""

    def train(self, training_data: TrainingData) -> Resource:
        # `merge()` with nothing to merge is TrainingData's own deep copy.
        return super().train(training_data.merge())
