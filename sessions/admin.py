from django.contrib import admin

from sessions.models import AgendaVersion, Event, Room, Session, SessionSpeaker, Speaker


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
    inlines = [RoomInline]


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
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
    readonly_fields = ["event", "number", "published_at", "sessions", "diff"]
