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
    page_url = serializers.URLField(required=False, help_text="Once the job has ended: the page (absolute URL).")
    version_url = serializers.URLField(
        required=False, allow_null=True,
        help_text="Once the job has succeeded: the page version its snapshot made (absolute URL); null if it failed.",
    )


class PageAcceptedSerializer(serializers.Serializer):
    page = serializers.IntegerField()
    jobs = TriggerAcceptedSerializer(many=True, help_text="One per Snapshots macro on the published page, in page order.")


class BulkRequestSerializer(serializers.Serializer):
    pages = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="Page ids: every macro on each published page.")
    macros = serializers.ListField(child=serializers.UUIDField(), required=False, help_text="Macro ids, as in their Web request URLs.")


class TargetErrorSerializer(serializers.Serializer):
    page = serializers.JSONField(required=False, help_text="The page id as sent (page targets).")
    macro = serializers.JSONField(required=False, help_text="The macro id as sent (macro targets).")
    error = ErrorSerializer(help_text="Why this target was refused; the others are unaffected.")


class BulkAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Targets that queued or joined jobs.")
    refused = serializers.IntegerField(help_text="Targets refused (unknown or unpublished).")
    results = serializers.ListField(
        child=serializers.DictField(),
        help_text=(
            "One per target, pages first then macros, each in the order sent: a page's result is shaped like "
            "the page trigger's answer, a macro's like the macro trigger's, a refused target like TargetError."
        ),
    )
