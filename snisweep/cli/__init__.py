"""The command line: parsing, the commands, and what the terminal shows. Does terminal I/O.

``commands`` parses the arguments, runs the command and maps ``SnisweepError`` to exit codes;
``terminal`` draws the progress bar, the summary line and the demo's table. Nothing outside this
package writes to the terminal.
"""

from snisweep.cli.commands import main

__all__ = ["main"]
