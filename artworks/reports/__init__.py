"""The evidence a tested model leaves behind: run report, statistics, calibration, error analysis, comparison.

``run_report.write_test_report`` writes the report of a tested module (``test_predictions.csv``, intervals,
figures, error analysis); ``stats`` holds the bootstrap and McNemar; ``calibration`` the ECE and temperature
scaling; ``compare.compare`` (with ``paired``) puts finished runs side by side from their files alone
(``metrics.json``, ``history.csv``, ``test_predictions.csv``).
"""
