"""The example's ServerApp, unchanged."""

from fl_node.apps.flower_digits.server_app import make_app

app = make_app()
