"""`carhistory-submit`: a source signs its own records and sends them to the log.

A source that signs at its own end (SPEC §2) proves to every buyer that the record is what the
shop said, not what the platform says the shop said. This package is what the source runs:
`keygen` makes its Ed25519 key, `register` puts the verifier key in the log through the API,
and `send` reads a file of records (JSON Lines or the project's CSV), signs each statement
locally and posts them in batches, resumably. Plain Python: no Django, only the verifier
package's own dependencies.
"""
