"""Example apps: what a participant's own client app looks like, built on bundled datasets."""
