"""Entry objects (SPEC §2) as plain dicts, the way other apps hand them to the ledger."""

import factory
from carhistory_verifier.entry import new_nonce


class EntryFactory(factory.DictFactory):
    v = 1
    type = "service"
    vin = "LSVAU2180N2183294"
    occurred_at = "2024-05-03"
    odometer_km = factory.Sequence(lambda number: 1000 + number)
    facts = factory.LazyFunction(lambda: {"items": ["oil", "filter"]})
    source = "sh-anting-vw-4s"
    source_key = "sh-anting-vw-4s+1a2b3c4d+AXyz"
    source_sig = "c2lnbmF0dXJl"
    private_commitment = None
    submitted_at = "2024-05-03T09:12:44Z"
    nonce = factory.LazyFunction(new_nonce)
