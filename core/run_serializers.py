"""The API output every background run shares: its id, its status (under the name its kind stores), what went wrong,
when it was asked for and when it ended. Each run kind's output serializer subclasses it and adds its own fields."""

from rest_framework import serializers


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
