from django import forms
from django.contrib import admin, messages
from django.db import models, transaction

from config.problems import ApplicationError
from sessions import cache as agenda_cache
from sessions import services
from sessions.models import AgendaVersion, Event, Room, Session, SessionSpeaker, Speaker

# Links typed without a scheme are https (Django 6's default; silences its transition warning).
URL_FIELDS = {models.URLField: {"assume_scheme": "https"}}


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0


class SessionSpeakerInline(admin.TabularInline):
    model = SessionSpeaker
    extra = 0


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "starts_at", "timezone", "capacity", "is_published"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["sequence"]
    formfield_overrides = URL_FIELDS
    inlines = [RoomInline]
    actions = ["publish_agenda"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # The public agenda and feeds show event fields (zone, venue): retire their cached copies.
        transaction.on_commit(lambda: agenda_cache.invalidate(obj.slug))

    @admin.action(description="Publish the draft agenda (sends updated invites)")
    def publish_agenda(self, request, queryset):
        for event in queryset:
            comment = f"Published in the admin by {request.user}"
            version = services.agenda_publish(event=event, comment=comment)
            self.message_user(request, f"{event.slug}: version {version.number} published.", messages.SUCCESS)


class SessionAdminForm(forms.ModelForm):
    """The admin edits the draft directly: apply the same schedule rules as the API (within the
    event, end after start, no room or speaker double-booking)."""

    class Meta:
        model = Session
        fields = ["event", "title", "description", "kind", "room", "starts_at", "ends_at", "online_url"]

    online_url = forms.URLField(required=False, assume_scheme="https")

    def clean(self):
        data = super().clean()
        event, starts_at, ends_at = data.get("event"), data.get("starts_at"), data.get("ends_at")
        if event and starts_at and ends_at:
            speaker_ids = (
                list(self.instance.session_speakers.values_list("speaker_id", flat=True))
                if self.instance.pk
                else []
            )
            try:
                services.validate_session(
                    event=event,
                    session_id=self.instance.pk,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    room=data.get("room"),
                    speaker_ids=speaker_ids,
                )
            except ApplicationError as exc:
                raise forms.ValidationError(str(exc.detail), code=exc.code) from exc
        return data


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    form = SessionAdminForm
    formfield_overrides = URL_FIELDS
    list_display = ["title", "event", "kind", "starts_at", "ends_at", "room"]
    list_filter = ["event", "kind"]
    inlines = [SessionSpeakerInline]


@admin.register(Speaker)
class SpeakerAdmin(admin.ModelAdmin):
    list_display = ["name", "title", "organisation", "event"]
    list_filter = ["event"]
    search_fields = ["name", "organisation", "email"]


@admin.register(AgendaVersion)
class AgendaVersionAdmin(admin.ModelAdmin):
    list_display = ["event", "number", "published_at", "comment"]
    readonly_fields = ["event", "number", "published_at", "sessions", "diff", "event_snapshot"]

    def has_add_permission(self, request) -> bool:
        # Versions are made by publishing, never by hand: they are what invites were sent from.
        return False
