"""callbot: Korean-language phone call-center bots (Twilio, Vosk, routed per-domain Rasa models)."""

__version__ = "0.1.0"
