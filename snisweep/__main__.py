"""``python -m snisweep``: the same as the ``snisweep`` command."""

import sys

from snisweep.cli import main

sys.exit(main())
