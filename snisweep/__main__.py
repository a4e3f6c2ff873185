"""``python -m snisweep``: the same as the ``snisweep`` command."""

import signal
import sys

from snisweep.cli import main

code = main()
# The exit code is decided and the report closed: a late Ctrl-C must not turn the interpreter's
# shutdown into a traceback.
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.exit(code)
