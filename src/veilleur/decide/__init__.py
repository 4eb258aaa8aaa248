"""Policy: signals to findings. Pure; thresholds come from versioned data."""

from veilleur.decide.policy import Finding, FindingBook, Policy, load_policy

__all__ = ["Finding", "FindingBook", "Policy", "load_policy"]
