"""Run reports: ``report.json`` collected from the chain and the store, ``report.html`` with plots."""
