"""``python -m capinspect`` runs the command line."""

from capinspect.cli import main

main()
