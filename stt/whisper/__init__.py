"""Whisper for the second pass, run with CTranslate2: model files (`assets`), log-mel input features
(`features`), and decoding one utterance into a scored hypothesis (`decoder`)."""
