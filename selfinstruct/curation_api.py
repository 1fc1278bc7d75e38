"""Thin DRF views for curation: read, edit (PATCH) and delete one seed task or generated instruction, and bulk
actions by filter. A project's members find its items (others get 404); only its admins may use them (403)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api import ErrorSerializer, service_error_response
from core.fields import IdField
from projects.endpoints import ALL_ROLES, ProjectEndpoint, admins
from selfinstruct.curation import bulk_curate, delete_item, edit_item
from selfinstruct.curation_rules import (
    BULK_ACTIONS,
    LANGUAGES,
    MAX_BULK_IDS,
    MAX_INSTRUCTION_CHARS,
    MAX_TEXT_CHARS,
    STATES,
    CurationError,
)
from selfinstruct.curation_selectors import curation_history, first_example, get_curated_item, items_for_curation
from selfinstruct.models import CurationKind


class CurationEventSerializer(serializers.Serializer):
    action = serializers.CharField()
    changes = serializers.DictField(help_text="{field: [old, new]}; a deletion: the fields it had, new null.")
    by = serializers.CharField(source="actor_name", help_text="The username (blank for the CLI without --by).")
    via = serializers.CharField(help_text="page, api or cli")
    bulk = serializers.BooleanField()
    at = serializers.DateTimeField(source="created_at")


class CuratedItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=CurationKind.values)
    instruction = serializers.CharField()
    input = serializers.CharField(allow_blank=True, help_text="Of the first example (see docs/generation.md).")
    output = serializers.CharField(allow_blank=True)
    language = serializers.CharField()
    task_type = serializers.CharField(allow_blank=True, help_text="Generated instructions; blank for seeds.")
    status = serializers.CharField(allow_blank=True, help_text="Generated instructions; blank for seeds.")
    is_classification = serializers.BooleanField(allow_null=True)
    source = serializers.CharField(allow_blank=True, help_text="A seed's file and id; a generated one's batch.")
    history = CurationEventSerializer(many=True, help_text="Its changes, newest first (at most 50).")

    def to_representation(self, item):
        kind = CurationKind.SEED if item.__class__.__name__ == "SeedTask" else CurationKind.INSTRUCTION
        example = first_example(item)
        seed = kind == CurationKind.SEED
        data = {
            "id": item.pk,
            "kind": kind,
            "instruction": item.instruction,
            "input": example["input"],
            "output": example["output"],
            "language": item.language,
            "task_type": "" if seed else item.task_type,
            "status": "" if seed else item.status,
            "is_classification": item.is_classification,
            "source": f"{item.source} #{item.external_id}".strip(" #") if seed else f"batch {item.batch_id}",
        }
        events = curation_history(project=item.project, kind=kind, object_id=item.pk)
        data["history"] = CurationEventSerializer(events, many=True).data
        return data


class SeedPatchSerializer(serializers.Serializer):
    instruction = serializers.CharField(required=False, max_length=MAX_INSTRUCTION_CHARS)
    input = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_CHARS, trim_whitespace=False)
    output = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_CHARS, trim_whitespace=False)
    language = serializers.ChoiceField(required=False, choices=LANGUAGES)
    is_classification = serializers.BooleanField(required=False)


class InstructionPatchSerializer(SeedPatchSerializer):
    is_classification = None
    task_type = serializers.CharField(
        required=False, allow_blank=True, max_length=32, help_text="One of the project's task types; blank: untagged."
    )
    status = serializers.ChoiceField(required=False, choices=STATES)


class BulkFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=200)
    language = serializers.ChoiceField(required=False, choices=LANGUAGES)
    task_type = serializers.CharField(required=False, allow_blank=True, max_length=32, help_text="Instructions.")
    status = serializers.ChoiceField(required=False, choices=STATES, help_text="Instructions.")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=32, help_text="Instructions.")
    batch = IdField(required=False, help_text="Instructions.")
    ids = serializers.ListField(child=IdField(), required=False, max_length=MAX_BULK_IDS)

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError({unknown[0]: f"not a filter (filters: {', '.join(self.fields)})"})
        return super().to_internal_value(data)


class BulkInputSerializer(serializers.Serializer):
    filter = BulkFilterSerializer(required=False, default=dict)
    action = serializers.ChoiceField(choices=sorted({a for actions in BULK_ACTIONS.values() for a in actions}))
    value = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=32, help_text="set_language, set_task_type."
    )
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Count only; change nothing.")


class BulkResultSerializer(serializers.Serializer):
    matched = serializers.IntegerField()
    changed = serializers.IntegerField(help_text="With dry_run: how many it would change.")
    skipped = serializers.IntegerField(help_text="Exact duplicates of pool items (accept); instructions in work.")
    dry_run = serializers.BooleanField()


CURATORS = admins("curate seed tasks and generated instructions", see=ALL_ROLES)  # other members: 403


class CurationEndpoint(ProjectEndpoint):
    scopes = {method: CURATORS for method in ("GET", "POST", "PATCH", "DELETE")}
    kind: str

    def item(self, item_id: int):
        item = get_curated_item(project=self.project, kind=self.kind, item_id=item_id)
        if item is None:
            raise Http404(f"No such {self.kind}.")
        return item


def _item_view(kind: str, patch_serializer):
    name = "Seed" if kind == CurationKind.SEED else "Instruction"

    class ItemApi(CurationEndpoint):
        @extend_schema(responses={200: CuratedItemSerializer}, operation_id=f"curation_{kind}_read")
        def get(self, request, item_id: int):
            return Response(CuratedItemSerializer(self.item(item_id)).data)

        @extend_schema(
            request=patch_serializer,
            responses={200: CuratedItemSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
            operation_id=f"curation_{kind}_edit",
            description="Project admins: change the named fields; each change is kept in the item's history.",
        )
        def patch(self, request, item_id: int):
            item = self.item(item_id)
            data = patch_serializer(data=request.data)
            data.is_valid(raise_exception=True)
            try:
                edit_item(item=item, changes=dict(data.validated_data), actor=request.user, via="api")
            except CurationError as exc:
                return service_error_response(exc)
            item.refresh_from_db()
            return Response(CuratedItemSerializer(item).data)

        @extend_schema(
            responses={204: None, 409: ErrorSerializer},
            operation_id=f"curation_{kind}_delete",
            description="Project admins: delete it: it leaves the pool and later dataset versions (built ones keep "
            "their bytes); its history stays.",
        )
        def delete(self, request, item_id: int):
            item = self.item(item_id)
            try:
                delete_item(item=item, actor=request.user, via="api")
            except CurationError as exc:
                return service_error_response(exc)
            return Response(status=204)

    ItemApi.kind = kind
    ItemApi.__name__ = f"{name}ItemApi"
    return ItemApi


def _bulk_view(kind: str):
    name = "Seed" if kind == CurationKind.SEED else "Instruction"

    class BulkApi(CurationEndpoint):
        @extend_schema(
            request=BulkInputSerializer,
            responses={200: BulkResultSerializer, 400: ErrorSerializer},
            operation_id=f"curation_{kind}_bulk",
            description=f"Project admins: one action ({', '.join(BULK_ACTIONS[kind])}) on every {kind} the filter "
            f"selects (at most 10,000, in one transaction); `dry_run` counts them first.",
        )
        def post(self, request):
            project = self.project
            data = BulkInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            try:
                rows = items_for_curation(project=project, kind=kind, filters=dict(values["filter"]))
                result = bulk_curate(
                    project=project,
                    kind=kind,
                    rows=rows,
                    action=values["action"],
                    value=values["value"],
                    actor=request.user,
                    via="api",
                    dry_run=values["dry_run"],
                )
            except CurationError as exc:
                return service_error_response(exc)
            return Response(BulkResultSerializer(result).data)

    BulkApi.kind = kind
    BulkApi.__name__ = f"{name}BulkApi"
    return BulkApi


SeedItemApi = _item_view(CurationKind.SEED, SeedPatchSerializer)
InstructionItemApi = _item_view(CurationKind.INSTRUCTION, InstructionPatchSerializer)
SeedBulkApi = _bulk_view(CurationKind.SEED)
InstructionBulkApi = _bulk_view(CurationKind.INSTRUCTION)
