# The environment every job inherits, set once while the graph is read (paths: common.smk).
import os
import sys

from mathlora.artifacts import CONFIG_SHA256_ENV, config_sha256

# The project's own tools (mathlora) live beside the interpreter that runs Snakemake (.venv/bin):
# put that folder first on PATH, so a rule finds them however Snakemake was started (by its full
# path, with the venv not activated). A conda environment of a rule still comes first inside it.
TOOLS_BIN = os.path.dirname(sys.executable)
if os.get_exec_path()[:1] != [TOOLS_BIN]:
    os.environ.update(PATH=os.pathsep.join([TOOLS_BIN, *os.get_exec_path()]))

# Provenance of every artifact carries the hash of the configuration that made it.
os.environ[CONFIG_SHA256_ENV] = config_sha256(config)
# MindFormers writes its own logs and stray files under ./output unless told otherwise; keep them
# inside the run's log folder (whatever the calling environment says), whose path the bundle
# replaces by a placeholder in every log it ships.
os.environ.update(
    LOG_MF_PATH=os.path.abspath(MINDFORMERS_LOGS),
    LOCAL_DEFAULT_PATH=os.path.abspath(os.path.join(MINDFORMERS_LOGS, "output")),
)
