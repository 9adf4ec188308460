"""``python -m mfflow``: the command-line tool (see :mod:`mfflow.app.cli`)."""

from .app.cli import main

if __name__ == "__main__":
    main()
