"""Rasa messages tokenized by the real Kiwi tokenizer, for component tests."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from bot.nlu.kiwi_tokenizer import KiwiTokenizer


def tokenized(text: str, intent: str | None = None) -> Message:
    """`text` (labelled `intent` when given) after `KiwiTokenizer` with its default config."""
    message = Message(data={"text": text, **({"intent": intent} if intent else {})})
    KiwiTokenizer(KiwiTokenizer.get_default_config()).process([message])
    return message
