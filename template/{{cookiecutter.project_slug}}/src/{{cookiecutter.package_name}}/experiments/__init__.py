"""Finding a better model: hyperparameter search (``tune``) and the comparison
of the workspace with a git ref for pull requests (``report``)."""
