"""The evidence a run leaves behind: test report, figures, per-epoch history, throughput, W&B summary.

``test_report.write_test_report`` writes the report of a tested module; the callbacks ``history.EpochHistory``
and ``throughput.TrainThroughput`` record what ``artworks.compare`` needs to compare runs later.
"""
