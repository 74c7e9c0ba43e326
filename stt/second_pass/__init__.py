"""The second pass: each finished utterance is read again by a stronger recognizer (Whisper).

Vosk stays the streaming layer (energy gate, partials for barge-in, endpointing); the second pass
re-reads what the gate let through once the caller stops. Modules: `settings` (config keys), `guards`
(hallucination checks), `engines` (the engine interface and registry), `pool` (bounded readers, jobs,
the choice of text), `utterances` (one stream's utterance audio and its early-started job).
"""
