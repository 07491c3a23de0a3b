"""The evidence a tested model leaves behind: run report, classification tables, figures, comparison of runs.

``run_report.write_test_report`` writes the report of a tested module; ``compare.compare`` puts finished runs
side by side from their files alone (``metrics.json``, ``history.csv``).
"""
