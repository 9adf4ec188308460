"""``python -m mfflow``: the command-line tool (see :mod:`mfflow.cli`)."""

from .cli import main

if __name__ == "__main__":
    main()
