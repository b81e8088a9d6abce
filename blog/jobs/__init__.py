"""Background jobs. ``worker.py`` imports this package once so forked work-horses need not re-import."""
