"""Batch rendering: job files, the manifest, and running tasks in local processes or on Ray."""
