"""Korean NLU parts: the Kiwi tokenizer (a Rasa graph component), the rejection decision, parsing."""
