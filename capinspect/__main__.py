"""``python -m capinspect`` runs the command line."""

from capinspect.cli import main

if __name__ == "__main__":  # not when a worker process of ``analyze --jobs`` imports it
    main()
