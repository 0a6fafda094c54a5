"""A C2SP tlog-witness (v1.0.0): the server a witness runs and the client a log uses.

A witness keeps, for every log it trusts, the size and root of the latest checkpoint it
cosigned. A log sends it each new checkpoint with a consistency proof from that size; the
witness checks the proof, records the new size durably, and answers a timestamped
tlog-cosignature/v1 line. Because it never cosigns two trees that do not extend one another, a
log cannot show one history to buyers and another to auditors while both carry the witness's
cosignature. It witnesses any C2SP log, not only carhistory's.

- `decision`: what to answer to one request, given the trusted keys and the stored state (pure).
- `state`: the durable state, in SQLite, with an atomic check-and-update.
- `server`: the HTTP server (`POST /add-checkpoint`).
- `client`: what a log calls to push a checkpoint to a witness.
- `cli`: `carhistory-witness generate NAME` and `carhistory-witness serve …`.
"""
