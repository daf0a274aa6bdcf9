"""`python -m chatsvc.bench`: the same as `chatsvc bench`."""

import sys

from chatsvc.bench.cli import main

sys.exit(main())
