"""The data stage: raw train.json -> training sample, held-out test set, conversations, MindRecord."""
