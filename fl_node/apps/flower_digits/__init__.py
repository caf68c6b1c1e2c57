"""The digits task as a Flower app, in Flower's usual layout, settled on-chain.

``client_app.py`` (the ClientApp: a NumPyClient training the task's model on one slice of
scikit-learn's digits, behind the settling mod and optional local DP), ``server_app.py`` (the
ServerApp: Flower's FedAvg wrapped in :class:`fl_node.flower.SettledStrategy`), ``task.py`` (the
model, the data and the task config ``task.yaml``), ``pyproject.toml`` (``[tool.flwr.app]``).
The same code runs on Flower's simulation engine (:mod:`.simulation`), on Flower's Deployment
Engine (``flwr run``), and unchanged under ``fl-node node --app
fl_node.apps.flower_digits.client_app:app``. See the README's "Flower" section.
"""
