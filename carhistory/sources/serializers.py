"""Shapes of the submissions API, for the OpenAPI schema (/api/schema/).

They document; they do not validate. Submissions are validated by `schemas.validate_submission`,
the one place the event rules live, which the form and the CSV importer share.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from carhistory.sources.schemas import EXTERNAL_ID_MAX_LENGTH, ODOMETER_MAX_KM, SOURCE_EVENT_TYPES

MAX_BATCH = 1000


class EventSubmissionSerializer(serializers.Serializer):
    vin = serializers.CharField(help_text=_("17 characters; trimmed and upper-cased."))
    type = serializers.ChoiceField(choices=SOURCE_EVENT_TYPES)
    occurred_at = serializers.CharField(
        help_text=_("YYYY-MM-DD or an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ); not in the future.")
    )
    odometer_km = serializers.IntegerField(required=False, min_value=0, max_value=ODOMETER_MAX_KM)
    facts = serializers.DictField(
        required=False, help_text=_("The public facts of this event type (SPEC §5).")
    )
    private = serializers.DictField(
        required=False,
        help_text=_("Private details: only their salted commitment enters the log."),
    )
    external_id = serializers.CharField(
        required=False,
        max_length=EXTERNAL_ID_MAX_LENGTH,
        help_text=_("Your own reference. Sending it again returns the first result."),
    )
    source_sig = serializers.CharField(
        required=False,
        help_text=_("base64 Ed25519 signature over the statement (SPEC §2), by your current key."),
    )


class EventBatchSerializer(serializers.Serializer):
    events = EventSubmissionSerializer(many=True, max_length=MAX_BATCH, allow_empty=False)


class SubmissionStateSerializer(serializers.Serializer):
    id = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=["pending", "integrated", "rejected", "conflict"])
    first_submission = serializers.UUIDField(
        required=False,
        help_text=_("For a conflict: the submission this external_id was first accepted as."),
    )
    index = serializers.IntegerField(required=False, help_text=_("The log index, once integrated."))
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    external_id = serializers.CharField(required=False)
    private = serializers.DictField(required=False)
    private_erased = serializers.BooleanField(required=False)


class BatchResultSerializer(serializers.Serializer):
    results = SubmissionStateSerializer(many=True)


class ConflictSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["conflict"])
    first_submission = serializers.UUIDField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class SigningKeyRequestSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text=_("Your verifier key line, name+keyid+base64, named after your source.")
    )


class SigningKeySerializer(serializers.Serializer):
    source = serializers.CharField()
    key = serializers.CharField()
    index = serializers.IntegerField(
        allow_null=True,
        help_text=_("The log index of its `source_key` entry; null while that entry is pending."),
    )


class RepairBasicInfoSerializer(serializers.Serializer):
    companyname = serializers.CharField(required=False, help_text=_("Private."))
    vin = serializers.CharField()
    vehicleplatenumber = serializers.CharField(required=False, help_text=_("Private."))
    repairdate = serializers.CharField(help_text=_("yyyyMMdd"))
    repairmileage = serializers.IntegerField(required=False, help_text=_("Whole km."))
    faultdescription = serializers.CharField(required=False, help_text=_("Private."))
    settledate = serializers.CharField(required=False, help_text=_("yyyyMMdd; private."))
    costlistcode = serializers.CharField(
        required=False, help_text=_("Settlement number; private. Makes a resend safe.")
    )


class RepairPartSerializer(serializers.Serializer):
    partsname = serializers.CharField()
    partscode = serializers.CharField(required=False, help_text=_("Private."))
    partsquantity = serializers.FloatField(required=False, help_text=_("Private."))


class RepairProjectSerializer(serializers.Serializer):
    repairproject = serializers.CharField()
    workinghours = serializers.FloatField(required=False, help_text=_("Private."))


class RepairRecordSerializer(serializers.Serializer):
    basicInfo = RepairBasicInfoSerializer()  # the platforms' own spelling
    vehiclepartslist = RepairPartSerializer(many=True, required=False)
    repairprojectlist = RepairProjectSerializer(many=True)
