"""fairgate: the governed retraining pipeline's logic, as plain functions.

Nothing here imports Airflow; every stage can be called from a notebook, a
test or the ``fairgate`` CLI.  Importing a module touches nothing on disk.
"""

__version__ = "0.1.0"
