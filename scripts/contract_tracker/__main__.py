"""``python -m contract_tracker``: the same command line as ``contract-tracker``."""

import sys

from .cli import main

sys.exit(main())
