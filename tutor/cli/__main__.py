"""``python -m tutor.cli``: the ``tutor`` command without the console script."""

from tutor.cli import main

main()
