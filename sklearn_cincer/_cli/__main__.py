"""``python -m sklearn_cincer._cli``: the ``sklearn-cincer`` command."""

import sys

from . import main

sys.exit(main())
