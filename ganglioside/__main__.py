"""``python -m ganglioside``: the command line (see ganglioside.cli)."""

from .cli import main

raise SystemExit(main())
