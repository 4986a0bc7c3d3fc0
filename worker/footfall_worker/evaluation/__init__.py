"""Offline evaluation of the tracker on MOTChallenge-format ground truth."""
