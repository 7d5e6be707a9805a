"""The `distill` command (see distill.cli.main): thin verbs over the library.

main          argument parsing; an error becomes one line and an exit code
flags         the shared options, and the flags made from config fields
import_flags  the importers' flags of `distill import`
verbs         one function per verb: load the config, call the library, print
console       progress and tables: the only module that draws on the terminal
"""

from distill.cli.main import main

__all__ = ["main"]
