"""`make bench`: the production-shaped stack under load (see bench/README.md)."""
