"""Hyperparameter search with Optuna (``python -m artworks.tune``).

A trial is an ordinary training run: ``conf/train.yaml`` composed with the command's train overrides and the
trial's parameters, in its own run folder, validation only. The study lives in an Optuna storage (SQLite by
default), so the same command continues it and several processes share it.

    space      the YAML search space -> ``trial.suggest_*`` -> Hydra overrides
    study      storage, sampler, pruner; create or continue a study
    objective  one trial = one training run without the test set
    pruning    a Lightning callback reporting the validation curve to the trial
    results    best.yaml, the plots, the final run
"""
