"""A verifying mirror of a carhistory log (`carhistory-mirror`). Plain Python, no Django.

An authorised party (a registry, an insurer, an industry association) keeps a complete copy
of the log in one SQLite file, checks every byte of it against the log's signed tree, and
cosigns a checkpoint only once everything it covers is durably stored and checked: the
statement of a C2SP tlog-mirror cosignature. The log's operator can be rebuilt from any
mirror's file (`manage.py restore_from_mirror`).
"""
