"""The bot: Korean NLU (router + per-domain Rasa models), training, evaluation and the dialogue runtime."""
