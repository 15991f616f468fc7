"""Staff scanner page routes (/checkin/)."""

urlpatterns: list = []
