"""Run reports: ``report.json`` read from the chain and the store, ``report.html`` with plots."""
