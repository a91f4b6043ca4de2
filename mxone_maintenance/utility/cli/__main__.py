"""`python -m mxone_maintenance.utility.cli`: the utility."""
import sys

from mxone_maintenance.utility.cli.main import main

sys.exit(main())
