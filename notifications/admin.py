from django.contrib import admin, messages
from django.db import transaction

from notifications import services
from notifications.models import AgendaFanout, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "kind",
        "recipient_email",
        "event",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "kind", "event"]
    search_fields = ["recipient_email"]
    # The outbox is written by services only; the admin reads it and retries failed rows.
    readonly_fields = [f.name for f in Notification._meta.fields]
    exclude = ["context"]
    actions = ["retry_failed"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Retry the selected failed notifications")
    def retry_failed(self, request, queryset):
        retried = 0
        with transaction.atomic():
            for notification in queryset.filter(status=Notification.Status.FAILED):
                services.notification_retry(notification=notification)
                retried += 1
        skipped = queryset.count() - retried
        self.message_user(request, f"{retried} notification(s) queued again.", messages.SUCCESS)
        if skipped > 0:
            self.message_user(request, f"{skipped} selected row(s) were not failed and were left alone.")


@admin.register(AgendaFanout)
class AgendaFanoutAdmin(admin.ModelAdmin):
    list_display = ["agenda_version", "event", "status", "attendee_count", "speaker_count", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in AgendaFanout._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
