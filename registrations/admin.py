from django.contrib import admin

from registrations.models import EventRole, Registration


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = [
        "full_name",
        "email",
        "event",
        "status",
        "attendance",
        "category",
        "country",
        "created_at",
    ]
    list_filter = ["event", "status", "attendance", "category"]
    search_fields = ["full_name", "email", "organisation"]
    readonly_fields = ["manage_token_hash", "manage_token_salt", "email_normalized"]


@admin.register(EventRole)
class EventRoleAdmin(admin.ModelAdmin):
    list_display = ["user", "event", "role"]
    list_filter = ["event", "role"]
