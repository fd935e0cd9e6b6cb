"""Operating a county server (issue 14): backup and restore, moving a
county from SQLite to PostgreSQL, key export and rotation, the periodic
jobs, the health endpoint and structured request logs. The commands are
added by the built-in plugin :mod:`core.builtins.operations`."""
