"""End-to-end tests of reflexd and reflex (a package: see harness.py)."""
