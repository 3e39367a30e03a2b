"""Shared test set-up: keep MindFormers' own log files out of the working tree."""

import os
import tempfile

os.environ.setdefault("LOG_MF_PATH", os.path.join(tempfile.gettempdir(), "mathlora-test-mf-logs"))
