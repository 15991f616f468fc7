"""Check-in API routes (scan, undo, stats, offline bundle)."""

urlpatterns: list = []
