"""Evaluation: answer extraction, numeric comparison, math accuracy, SQuAD F1/EM, scores, judging."""
