"""`python -m pipeline` is the `wink` command."""

import sys

from pipeline.cli import main

sys.exit(main())
