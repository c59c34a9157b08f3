"""Model facts as calculadorapnav defines them: framework, parameters, features (size bucket is the sidecar's).

Frameworks are looked up in `sys.modules` only: a framework the user did not import is never imported.

- PyTorch (`torch.nn.Module`, so Lightning and Hugging Face torch models too): all parameters
  (`p.numel()`), features from the first Conv (`in_channels`), Linear (`in_features`), RNN/LSTM/GRU
  (`input_size`) in `modules()` order. A leading BatchNorm is skipped (calculadorapnav crashes on it).
- Keras / tf.keras: `count_params()`; features `input_shape[1:]` as a list (a list of lists for several
  inputs), when the model is built.
- scikit-learn (any estimator with `n_features_in_`): features `n_features_in_`; parameters are the
  fitted numbers that define the model: `coef_` + `intercept_` sizes (linear models, SVMs use
  `dual_coef_` + `support_vectors_`), node count of each tree (`tree_.node_count`, summed over
  `estimators_` for forests and boosting), `coefs_` + `intercepts_` for MLPs, and the sum over the
  steps of a Pipeline. An unfitted or unknown estimator has 0 parameters.
- Any other object whose `parameters()` returns arrays (the convention of hand-written NumPy models):
  parameters = the sum of their sizes, features = the rows of the first 2-D array (its input weights).
"""

from __future__ import annotations

import sys

_TORCH_FEATURE_ATTRS = (
    ('Conv1d', 'in_channels'),
    ('Conv2d', 'in_channels'),
    ('Conv3d', 'in_channels'),
    ('Linear', 'in_features'),
    ('LSTM', 'input_size'),
    ('GRU', 'input_size'),
    ('RNN', 'input_size'),
)


def _is_instance_of(obj, module_name: str, path: str) -> bool:
    module = sys.modules.get(module_name)
    if module is None:
        return False
    target = module
    try:
        for part in path.split('.'):
            target = getattr(target, part)
    except AttributeError:
        return False
    return isinstance(target, type) and isinstance(obj, target)


def _torch_facts(model) -> dict:
    n_parameters = int(sum(p.numel() for p in model.parameters()))
    n_features = 0
    nn = sys.modules['torch'].nn
    for module in model.modules():
        for class_name, attr in _TORCH_FEATURE_ATTRS:
            cls = getattr(nn, class_name, None)
            if cls is not None and isinstance(module, cls):
                n_features = int(getattr(module, attr))
                break
        if n_features:
            break
    return {'framework': 'torch', 'nParameters': n_parameters, 'nFeatures': n_features, 'name': type(model).__name__}


def _shape_list(shape) -> list:
    return [int(d) for d in shape[1:] if d is not None]


def _keras_facts(model) -> dict:
    try:
        n_parameters = int(model.count_params())
    except Exception:  # an unbuilt model has no weights yet
        n_parameters = 0
    n_features = 0
    try:
        shape = model.input_shape
        if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
            n_features = [_shape_list(s) for s in shape]
        else:
            n_features = _shape_list(shape)
    except Exception:
        n_features = 0
    return {
        'framework': 'tensorflow',
        'nParameters': n_parameters,
        'nFeatures': n_features,
        'name': type(model).__name__,
    }


def _size(array) -> int:
    return int(getattr(array, 'size', 0) or 0)


def _sklearn_parameters(estimator) -> int:
    steps = getattr(estimator, 'steps', None)
    if isinstance(steps, list):
        return sum(_sklearn_parameters(step) for _, step in steps if hasattr(step, 'get_params'))
    tree = getattr(estimator, 'tree_', None)
    if tree is not None:
        return int(tree.node_count)
    estimators = getattr(estimator, 'estimators_', None)
    if estimators is not None:
        flat = getattr(estimators, 'ravel', None)
        members = flat() if flat else estimators
        return sum(_sklearn_parameters(member) for member in members)
    coefs = getattr(estimator, 'coefs_', None)
    if isinstance(coefs, list):
        return sum(_size(c) for c in coefs) + sum(_size(i) for i in getattr(estimator, 'intercepts_', []))
    if hasattr(estimator, 'support_vectors_'):
        return (
            _size(estimator.support_vectors_)
            + _size(getattr(estimator, 'dual_coef_', None))
            + _size(getattr(estimator, 'intercept_', None))
        )
    total = 0
    for attr in ('coef_', 'intercept_'):
        value = getattr(estimator, attr, None)
        total += (
            _size(value)
            if value is not None and not isinstance(value, (int, float))
            else (1 if value is not None else 0)
        )
    return total


def _sklearn_facts(estimator) -> dict:
    n_features = getattr(estimator, 'n_features_in_', 0)
    try:
        n_parameters = _sklearn_parameters(estimator)
    except Exception:
        n_parameters = 0
    return {
        'framework': 'sklearn',
        'nParameters': int(n_parameters),
        'nFeatures': int(n_features or 0),
        'name': type(estimator).__name__,
    }


def _array_parameters_facts(model) -> dict | None:
    arrays = list(model.parameters())
    if not arrays or not all(isinstance(getattr(a, 'size', None), int) and hasattr(a, 'shape') for a in arrays):
        return None
    n_features = next((int(a.shape[0]) for a in arrays if len(a.shape) == 2), 0)
    framework = type(arrays[0]).__module__.split('.')[0] or 'unknown'
    return {
        'framework': framework,
        'nParameters': int(sum(a.size for a in arrays)),
        'nFeatures': n_features,
        'name': type(model).__name__,
    }


def model_facts(obj) -> dict | None:
    """Facts for a recognised model object, or None."""
    if obj is None:
        return None
    try:
        # Keras first: with the PyTorch backend a Keras 3 model is also a torch.nn.Module.
        if _is_instance_of(obj, 'keras', 'Model') or _is_instance_of(obj, 'tensorflow', 'keras.Model'):
            return _keras_facts(obj)
        if _is_instance_of(obj, 'torch', 'nn.Module'):
            return _torch_facts(obj)
        if type(obj).__module__.startswith('sklearn.') and hasattr(obj, 'get_params'):
            return _sklearn_facts(obj)
        if callable(getattr(obj, 'parameters', None)):
            return _array_parameters_facts(obj)
    except Exception:
        return None
    return None


def find_model(args=(), kwargs=None, result=None) -> dict | None:
    """The first model among positional args, keyword args, then the return value (or its elements).

    Never tests the return value for truthiness (arrays and tensors raise there).
    """
    candidates = list(args) + list((kwargs or {}).values())
    if isinstance(result, (list, tuple)):
        candidates += list(result)
    else:
        candidates.append(result)
    for candidate in candidates:
        facts = model_facts(candidate)
        if facts is not None:
            return facts
    return None
