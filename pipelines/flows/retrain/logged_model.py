"""How the train stage logs a model: self-contained, with an input example and its probability schema.

The logged model is what the registry holds, what ``fairgate score`` checks
and loads, and what ``mlflow models serve`` serves.  Its pyfunc form answers
``predict_proba``; its signature says so: the inputs are the model's features
(no sensitive column), the output one float64 column per class, named by the
class label (``str(label)``), in the model's ``classes_`` order.

The input example is not an applicant: each numeric feature takes its
training quartiles (lower, median, upper; ``interpolation="nearest"``, so each
is a value the column holds, in its own dtype) and every other feature its
most frequent values.  No row of the training data is copied into the
registry.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy
import sklearn

from pipelines.model import mitigation

EXAMPLE_ROWS = 3  # lower quartile, median, upper quartile
EXAMPLE_QUANTILES = (0.25, 0.5, 0.75)

ERR_NO_PROBABILITIES = "the model to log has no predict_proba: the served answer would not be the gate's probabilities"
ERR_NO_CLASSES = "the model to log has no classes_: its probability columns cannot be named"


def input_example(features: pd.DataFrame) -> pd.DataFrame:
    """Three example rows, one value per feature as the module's docstring says, in the features' dtypes."""
    columns: dict[str, Any] = {}
    for name in features.columns:
        column = features[name]
        present = column.dropna()
        if present.empty:
            columns[name] = column.iloc[:EXAMPLE_ROWS].tolist()
        elif pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            columns[name] = present.quantile(list(EXAMPLE_QUANTILES), interpolation="nearest").tolist()
        else:
            frequent = present.value_counts(sort=True).index.tolist()[:EXAMPLE_ROWS]
            columns[name] = [frequent[i % len(frequent)] for i in range(EXAMPLE_ROWS)]
    example = pd.DataFrame(columns, columns=list(features.columns))
    return example.astype(features.dtypes.to_dict())


def probability_frame(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """``predict_proba`` on ``rows`` as the signature describes it: one float64 column per class label."""
    if not hasattr(model, "predict_proba"):
        raise TypeError(ERR_NO_PROBABILITIES)
    classes = getattr(model, "classes_", None)
    if classes is None:
        raise TypeError(ERR_NO_CLASSES)
    probabilities = np.asarray(model.predict_proba(rows), dtype=np.float64)
    return pd.DataFrame(probabilities, columns=[str(label) for label in classes])


def log_sklearn_model(model: Any, features: pd.DataFrame, name: str = "model") -> Any:
    """Log the pipeline as a self-contained MLflow model (cloudpickle, explicit requirements).

    ``pipelines.model.mitigation`` is pickled by value, so a mitigated model
    loads where fairgate is not installed.  ``features`` are the training
    rows' model inputs: the input example is built from them (see the
    module's docstring), the signature from the example and the model's
    ``predict_proba`` on it.
    """
    # lazy: cloudpickle and mlflow.sklearn are needed only by the train task
    import cloudpickle
    import mlflow.sklearn
    from mlflow.models import infer_signature

    requirements = [
        f"scikit-learn=={sklearn.__version__}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
        f"scipy=={scipy.__version__}",
        f"cloudpickle=={cloudpickle.__version__}",
    ]
    example = input_example(features)
    signature = infer_signature(example, probability_frame(model, example))
    cloudpickle.register_pickle_by_value(mitigation)
    try:
        return mlflow.sklearn.log_model(
            model,
            name=name,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            pip_requirements=requirements,
            signature=signature,
            input_example=example,
            # served (mlflow models serve, pyfunc) it answers what the gate evaluated: the class
            # probabilities its signature declares, in classes_ order, never predict's 0.5 cut
            pyfunc_predict_fn="predict_proba",
        )
    finally:
        cloudpickle.unregister_pickle_by_value(mitigation)
