"""`python -m mxone_maintenance`: the utility, the same `main` as the console script."""
import sys

from mxone_maintenance.utility.cli import main

sys.exit(main())
