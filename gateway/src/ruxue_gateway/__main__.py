"""``python -m ruxue_gateway``: the ``ruxue`` command."""

from ruxue_gateway.cli import main

main()
