"""``python -m curriculum.labs check [LAB_ID...]`` (see ``curriculum.labs.selfcheck``)."""

import sys

from curriculum.labs.selfcheck import main

sys.exit(main())
