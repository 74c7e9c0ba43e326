"""Helpers for tests of our Rasa NLU components: Kiwi-tokenized messages and components made by `create`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.kiwi_tokenizer import KiwiTokenizer


def tokenized(text: str, intent: str | None = None) -> Message:
    """`text` (labelled `intent` when given) after `KiwiTokenizer` with its default config."""
    message = Message(data={"text": text, **({"intent": intent} if intent else {})})
    KiwiTokenizer(KiwiTokenizer.get_default_config()).process([message])
    return message


def created(cls: Any, tmp_path: Path, name: str, **config: object) -> tuple[Any, LocalModelStorage, Resource]:
    """`cls.create` with its default config updated by `config`, storing under `tmp_path` as `name`."""
    storage = LocalModelStorage(tmp_path)
    resource = Resource(name)
    context = ExecutionContext(GraphSchema({}), node_name=name)
    full = {**cls.get_default_config(), **config}
    return cls.create(full, storage, resource, context), storage, resource
