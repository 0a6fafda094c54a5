"""The log.

The core modules here (merkle, note, entry, verify, tiles) are plain Python and import no
Django: the verifier a buyer runs offline is the same code the server and the tests run. The
Django app around them (models, storage, sequencer, views) only stores, sequences and serves.
"""
