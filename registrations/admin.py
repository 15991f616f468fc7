"""Django admin for registrations and event roles.

Superusers see everything. An organiser (a staff user with the organiser role on some
events) sees and acts on the registrations of those events only; the actions go through the
services, so seats, the waitlist and the outbox behave exactly as through the API.
"""

from __future__ import annotations

from django.contrib import admin, messages

from config.problems import ApplicationError
from notifications.services import dispatch_together
from registrations import services
from registrations.models import EventRole, Registration


def organiser_event_ids(user) -> list[int]:
    return list(
        EventRole.objects.filter(user=user, role=EventRole.Role.ORGANISER).values_list("event_id", flat=True)
    )


class OrganiserScopedAdmin(admin.ModelAdmin):
    """Model permissions for organisers come from their roles, not from Django groups."""

    def _is_organiser(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and bool(organiser_event_ids(request.user))

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(event_id__in=organiser_event_ids(request.user))

    def has_module_permission(self, request):
        return super().has_module_permission(request) or self._is_organiser(request)

    def has_view_permission(self, request, obj=None):
        if super().has_view_permission(request, obj):
            return True
        return self._is_organiser(request) and (
            obj is None or obj.event_id in organiser_event_ids(request.user)
        )

    def has_change_permission(self, request, obj=None):
        if super().has_change_permission(request, obj):
            return True
        return self._is_organiser(request) and (
            obj is None or obj.event_id in organiser_event_ids(request.user)
        )


def _apply(modeladmin, request, queryset, action, verb: str, **kwargs) -> None:
    done, refused = 0, []
    # Each registration in its own transaction (one refusal does not undo the others); their
    # emails go to the workers in chunks once all are done.
    with dispatch_together():
        for registration in queryset.order_by("created_at", "id"):
            try:
                action(registration=registration, **kwargs)
                done += 1
            except ApplicationError as exc:
                refused.append(f"{registration.full_name}: {exc.detail}")
    if done:
        modeladmin.message_user(request, f"{verb} {done} registration(s).", messages.SUCCESS)
    for line in refused[:20]:
        modeladmin.message_user(request, line, messages.WARNING)


@admin.action(description="Approve selected (pending approval → confirmed)")
def approve(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, services.registration_approve, "Approved")


@admin.action(description="Reject selected (pending approval or waitlisted)")
def reject(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, services.registration_reject, "Rejected")


@admin.action(description="Cancel selected (frees their seats for the waitlist)")
def cancel(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, services.registration_cancel, "Cancelled", by="organiser")


@admin.register(Registration)
class RegistrationAdmin(OrganiserScopedAdmin):
    list_display = [
        "full_name",
        "email",
        "event",
        "status",
        "waitlist_position",
        "attendance",
        "category",
        "country",
        "created_at",
    ]
    # RelatedOnly: an organiser's event filter lists the events they can see, not every event.
    list_filter = [
        ("event", admin.RelatedOnlyFieldListFilter),
        "status",
        "attendance",
        "category",
        "language",
    ]
    search_fields = ["full_name", "email", "organisation"]
    ordering = ["event", "status", "waitlist_position", "created_at"]
    actions = [approve, reject, cancel]
    list_select_related = ["event"]
    # Status, seats and the waitlist change only through the actions (services), never by
    # editing fields, so they cannot oversell or skip the outbox.
    readonly_fields = [
        "event",
        "email",
        "email_normalized",
        "status",
        "waitlist_position",
        "attendance",
        "manage_token_hash",
        "manage_token_salt",
        "badge_counter",
        "invite_sequence",
        "consent_at",
        "created_at",
        "updated_at",
        "cancelled_at",
    ]
    fields = [
        "event",
        "full_name",
        "email",
        "organisation",
        "country",
        "category",
        "attendance",
        "timezone",
        "language",
        "accessibility_needs",
        "status",
        "waitlist_position",
        "decision_reason",
        "invite_sequence",
        "badge_counter",
        "consent_at",
        "created_at",
        "updated_at",
        "cancelled_at",
        "email_normalized",
        "manage_token_salt",
        "manage_token_hash",
    ]

    def has_add_permission(self, request):
        # New registrations go through the sign-up service (seat allocation, e-mails).
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(EventRole)
class EventRoleAdmin(admin.ModelAdmin):
    list_display = ["user", "event", "role"]
    list_filter = ["event", "role"]
    search_fields = ["user__username", "user__email", "event__slug"]
    autocomplete_fields = ["user"]
