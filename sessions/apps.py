from django.apps import AppConfig


class AgendaConfig(AppConfig):
    name = "sessions"
    # `sessions` is django.contrib.sessions' label.
    label = "agenda"
    verbose_name = "Agenda"
