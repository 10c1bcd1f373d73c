"""mlgate: gate ML models and promote the winners through GitOps."""

__version__ = "0.1.0"
