"""The exit codes of every synthc command (README "Exit codes"; scripts rely on them)."""

EXIT_OK = 0  # done; every check passed
EXIT_FAILED = 1  # checks failed (warnings under --strict, files `fmt --check` would change, a dataset check)
EXIT_ERROR = 2  # an error in the spec, the command line or a data file
EXIT_STOPPED = 3  # a run stopped before it finished, with everything it paid for kept
EXIT_INTERNAL = 70  # a bug in synthc
