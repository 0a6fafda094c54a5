"""Storage of the log: pending submissions, integrated entries, subtree hashes, checkpoints.

Entry, Subtree, Checkpoint and Cosignature are append-only: database triggers (migration
0002) refuse every UPDATE and DELETE on them, so not even a bug or a stray shell can rewrite
history. PendingEntry is the one mutable table: the sequencer deletes rows as it integrates
them.
"""

from carhistory_verifier import note
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _

HASH_SIZE = 32


class PendingEntry(models.Model):
    """A complete entry (canonical bytes) waiting for the sequencer to give it an index."""

    id = models.BigAutoField(primary_key=True)
    data = models.BinaryField(_("entry bytes"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("pending entry")
        verbose_name_plural = _("pending entries")

    def __str__(self) -> str:
        return f"pending #{self.id}"


class Entry(models.Model):
    """Leaf `index` of the log. `vin`, `type`, `source` and `occurred_at` are indexed copies
    of fields inside `data`, taken once at integration; `data` is the authority."""

    index = models.BigIntegerField(_("index"), primary_key=True)
    leaf_hash = models.BinaryField(_("leaf hash"), max_length=HASH_SIZE)
    data = models.BinaryField(_("entry bytes"))
    # NULL, not "": platform entries (source_key, source_status) have no VIN at all.
    vin = models.CharField(  # noqa: DJ001
        _("VIN"), max_length=17, null=True, blank=True, db_index=True
    )
    type = models.CharField(_("type"), max_length=32)
    source = models.CharField(_("source"), max_length=100, db_index=True)
    occurred_at = models.CharField(_("occurred at"), max_length=40, blank=True)
    # The PendingEntry id this entry came from: how a submission learns its index.
    pending_id = models.BigIntegerField(_("pending id"), unique=True, null=True, blank=True)
    integrated_at = models.DateTimeField(_("integrated at"))

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        constraints = [
            models.CheckConstraint(condition=models.Q(index__gte=0), name="ledger_entry_index"),
            models.CheckConstraint(
                condition=Exact(Length("leaf_hash"), HASH_SIZE), name="ledger_entry_leaf_hash"
            ),
        ]

    def __str__(self) -> str:
        return f"entry {self.index} ({self.type})"


class Subtree(models.Model):
    """The hash of a complete, aligned subtree of level >= 1: leaves [index * 2**level,
    (index + 1) * 2**level). Level 0 hashes are Entry.leaf_hash. With these stored, appending
    never recomputes the tree and every proof is a handful of rows."""

    pk = models.CompositePrimaryKey("level", "index")
    level = models.SmallIntegerField(_("level"))
    index = models.BigIntegerField(_("index"))
    hash = models.BinaryField(_("hash"), max_length=HASH_SIZE)

    class Meta:
        verbose_name = _("subtree")
        verbose_name_plural = _("subtrees")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(level__gte=1, level__lte=63, index__gte=0),
                name="ledger_subtree_position",
            ),
            models.CheckConstraint(
                condition=Exact(Length("hash"), HASH_SIZE), name="ledger_subtree_hash"
            ),
        ]

    def __str__(self) -> str:
        return f"subtree ({self.level}, {self.index})"


class Checkpoint(models.Model):
    """A signed checkpoint (C2SP tlog-checkpoint as a signed note) of the tree at `tree_size`."""

    tree_size = models.BigIntegerField(_("tree size"), primary_key=True)
    root_hash = models.BinaryField(_("root hash"), max_length=HASH_SIZE)
    note = models.TextField(_("signed note"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("checkpoint")
        verbose_name_plural = _("checkpoints")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tree_size__gte=0), name="ledger_checkpoint_tree_size"
            ),
            models.CheckConstraint(
                condition=Exact(Length("root_hash"), HASH_SIZE), name="ledger_checkpoint_root_hash"
            ),
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"


class Cosigner(models.Model):
    """An independent party whose C2SP tlog-cosignatures on checkpoints the log stores and
    serves: a witness (the log pushes each checkpoint to its `url`, C2SP tlog-witness) or a
    mirror (which cosigns what it has copied and checked). The push fields are the log's
    view of a witness: the size it last cosigned and how pushing to it goes."""

    class Kind(models.TextChoices):
        WITNESS = "witness", _("witness")
        MIRROR = "mirror", _("mirror")

    name = models.CharField(_("name"), max_length=200, unique=True)
    # What buyers read on the report ("Shanghai Vehicle Registry"); the name is the key's.
    title = models.CharField(_("title"), max_length=200, blank=True)
    # The same for Chinese pages ("上海市机动车登记所"). Display only: the protocol knows
    # the cosigner by its key's name alone. Added later, so rows written without it (older
    # code, raw SQL) read as "no Chinese title".
    title_zh_hans = models.CharField(
        _("title in Chinese"), max_length=200, blank=True, db_default=""
    )
    verifier_key = models.TextField(_("verifier key"), unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind, default=Kind.WITNESS)
    active = models.BooleanField(_("active"), default=True)
    url = models.URLField(
        _("submission URL"),
        blank=True,
        help_text=_("A witness's tlog-witness submission prefix; add-checkpoint is sent below it."),
    )
    cosigned_size = models.BigIntegerField(_("last cosigned size"), null=True, blank=True)
    cosigned_at = models.DateTimeField(_("last cosigned at"), null=True, blank=True)
    failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    retry_at = models.DateTimeField(_("next attempt not before"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("cosigner")
        verbose_name_plural = _("cosigners")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cosigned_size__gte=0), name="ledger_cosigner_cosigned_size"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.title or self.name

    def display_name_in(self, language: str | None) -> str:
        """What a reader of `language` (a Django language code) reads: the Chinese title on
        Chinese pages when there is one, else the title, else the key's name."""
        if language and language.lower().startswith("zh") and self.title_zh_hans:
            return self.title_zh_hans
        return self.display_name

    def clean(self) -> None:
        # The key decides which signature lines are this cosigner's: a key of the wrong type,
        # or one named differently from the cosigner, would match none of them.
        try:
            key = note.CosignatureVerifier.from_key_string(self.verifier_key.strip())
        except note.NoteError as error:
            raise ValidationError({"verifier_key": str(error)}) from None
        if key.name != self.name:
            message = _("The name must be the verifier key's name, %(name)s.")
            raise ValidationError({"name": message % {"name": key.name}})
        if self.kind == self.Kind.WITNESS and self.active and not self.url:
            raise ValidationError({"url": _("An active witness needs its submission URL.")})


class Cosignature(models.Model):
    """A cosigner's C2SP tlog-cosignature line on one checkpoint, appended when served. A
    witness asked again about the same checkpoint signs it again with a newer time, so a
    checkpoint may hold several lines by one cosigner; the newest is served."""

    checkpoint = models.ForeignKey(
        Checkpoint, on_delete=models.PROTECT, related_name="cosignatures"
    )
    cosigner = models.ForeignKey(Cosigner, on_delete=models.PROTECT, related_name="cosignatures")
    signature_line = models.TextField(_("signature line"))
    timestamp = models.BigIntegerField(_("timestamp"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("cosignature")
        verbose_name_plural = _("cosignatures")
        constraints = [
            models.UniqueConstraint(
                fields=["checkpoint", "cosigner", "timestamp"],
                name="ledger_cosignature_once_per_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cosigner} on {self.checkpoint}"


class Mirror(models.Model):
    """A party that keeps a verified copy of every entry (`carhistory-mirror sync`).

    Its cosigner identity (name and tlog-cosignature verifier key) is a Cosigner row, so its
    cosignatures live in the one Cosignature table and are served with the checkpoint like a
    witness's; this row adds what only a mirror has: the token that lets it read the entries,
    which are private (they carry VINs). Only the token's SHA-256 is kept.
    """

    cosigner = models.OneToOneField(Cosigner, on_delete=models.PROTECT, related_name="mirror")
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("mirror")
        verbose_name_plural = _("mirrors")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(token_hash__regex=r"^[0-9a-f]{64}$"),  # noqa: S106 - a pattern
                name="ledger_mirror_token_hash_is_sha256",
            ),
        ]

    def __str__(self) -> str:
        return self.cosigner.name


class VinKey(models.Model):
    """A VIN's place in the VIN index (SPEC §7): its ECVRF proof and map key, computed once,
    and the indexes of its entries the map covers so far.

    Mutable: the sequencer appends to `indexes` in the same transaction as the entries."""

    vin = models.CharField(_("VIN"), max_length=17, primary_key=True)
    key = models.BinaryField(_("map key"), max_length=HASH_SIZE, unique=True)
    vrf_proof = models.BinaryField(_("VRF proof"), max_length=80)
    # The entry indexes as 8-byte big-endian integers, increasing: SHA-256 of this is the
    # VIN's index_hash, so a batch hashes these bytes instead of reading the VIN's entries.
    indexes = models.BinaryField(_("entry indexes"), default=b"")

    class Meta:
        verbose_name = _("VIN index key")
        verbose_name_plural = _("VIN index keys")
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("key"), HASH_SIZE), name="ledger_vinkey_key"
            ),
            models.CheckConstraint(
                condition=Exact(Length("vrf_proof"), 80), name="ledger_vinkey_vrf_proof"
            ),
        ]

    def __str__(self) -> str:
        return f"VIN index key of {self.vin}"


class VinIndexNode(models.Model):
    """One stored node of the VIN index trie (`carhistory_verifier.vin_index`): a non-empty
    subtree whose parent holds two or more keys. `path` is its NodeId in bytes. A leaf (one key
    below) also keeps that key and its index hash, so it can be pushed down or shown in an
    absence proof. Mutable: the sequencer rewrites the nodes on the paths a batch touches."""

    path = models.BinaryField(_("path"), primary_key=True)
    hash = models.BinaryField(_("hash"), max_length=HASH_SIZE)
    leaf_key = models.BinaryField(_("leaf key"), max_length=HASH_SIZE, null=True)
    leaf_index_hash = models.BinaryField(_("leaf index hash"), max_length=HASH_SIZE, null=True)

    class Meta:
        verbose_name = _("VIN index node")
        verbose_name_plural = _("VIN index nodes")

    def __str__(self) -> str:
        return f"VIN index node {bytes(self.path).hex()}"
