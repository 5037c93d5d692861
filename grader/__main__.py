"""``python -m grader`` is the ``grader`` command."""

import sys

from grader.entry import main

sys.exit(main())
