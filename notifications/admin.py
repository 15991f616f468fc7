from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["kind", "recipient_email", "event", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["event", "status", "kind"]
    search_fields = ["recipient_email"]
    readonly_fields = [f.name for f in Notification._meta.fields]
