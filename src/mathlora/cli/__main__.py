"""``python -m mathlora.cli``: the ``mathlora`` command (msrun starts each rank this way)."""

import sys

from mathlora.cli import main

sys.exit(main())
