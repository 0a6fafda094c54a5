"""`ledger_map_node_path(key, depth, sibling)`: a map node's stored path, computed in SQL.

An evidence bundle reads the VIN's entries, its map key and the map path to that key. The path's
node ids derive from the key, so without this function the path is a second round trip after
the key's; with it, one statement reads all three (`ledger.vin_index.history_and_proof`).

It is `NodeId(depth, first depth bits of key).to_bytes()` of `carhistory_verifier.vin_index`
(with `sibling`, of `.sibling()`): the depth in two bytes, then the prefix bits zero-padded to
whole bytes. `tests/ledger/test_map_node_path_function.py` holds the two equal for every depth.
"""

from django.db import migrations

CREATE = r"""
CREATE FUNCTION ledger_map_node_path(key bytea, depth integer, sibling boolean)
RETURNS bytea LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT int2send(depth::smallint) || CASE WHEN depth = 0 THEN ''::bytea ELSE set_byte(
        substring(key FROM 1 FOR (depth + 7) / 8),
        (depth + 7) / 8 - 1,
        -- The prefix's last byte keeps its first ((depth - 1) % 8 + 1) bits; the prefix's
        -- last bit sits ((8 - depth % 8) % 8) bits from that byte's low end.
        ((get_byte(key, (depth + 7) / 8 - 1) & ((255 << ((8 - depth % 8) % 8)) & 255))
            # CASE WHEN sibling THEN 1 << ((8 - depth % 8) % 8) ELSE 0 END)
    ) END
$$
"""
DROP = "DROP FUNCTION ledger_map_node_path(bytea, integer, boolean)"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_vin_index_fillfactor")]

    operations = [migrations.RunPython(create, drop)]
