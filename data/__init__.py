"""data/: a company's QnA sheets and chat logs -> cleaned, PII-masked, augmented Rasa training data."""
