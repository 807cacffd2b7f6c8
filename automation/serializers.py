"""The shapes of the automation API's bodies (DESIGN §5), for the OpenAPI description.

The views build these bodies as plain dicts (the trigger is a hot path); a test holds
the two together.
"""

from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A sentence for a person.")
    code = serializers.CharField(help_text="A machine code, e.g. invalid_api_key.")


class TriggerAcceptedSerializer(serializers.Serializer):
    job = serializers.UUIDField(help_text="The snapshot job: new, or the one already queued.")
    status = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed"])
    macro = serializers.UUIDField()
    page = serializers.IntegerField()
    coalesced = serializers.BooleanField(help_text="True when the call joined a job that was already queued.")
    status_url = serializers.URLField(help_text="Absolute URL of the job's status (also in Location).")


class SnapshotSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    taken_at = serializers.DateTimeField()
    issue_count = serializers.IntegerField()


class ProgressSerializer(serializers.Serializer):
    fetched = serializers.IntegerField()
    expected = serializers.IntegerField(allow_null=True)


class JobStatusSerializer(serializers.Serializer):
    job = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "running", "succeeded", "failed"])
    macro = serializers.UUIDField()
    snapshot = SnapshotSummarySerializer(allow_null=True, help_text="The snapshot the job took, once it succeeded.")
    error = serializers.CharField(allow_null=True, help_text="Why the job failed.")
    progress = ProgressSerializer(allow_null=True, help_text="Issues fetched so far, while the job runs.")
