"""Model facts without importing frameworks; scikit-learn counted for real, PyTorch/Keras when installed."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
from pnav_lab.model_facts import find_model, model_facts


def test_unknown_objects_have_no_facts():
    assert model_facts(None) is None
    assert model_facts(object()) is None
    assert find_model((1, 'x'), {'a': [1]}, result=None) is None


def test_array_like_return_value_is_never_tested_for_truthiness():
    class Ambiguous:
        def __bool__(self):
            raise ValueError('truth value of an array is ambiguous')

    assert find_model((), {}, result=Ambiguous()) is None


def test_looking_for_a_model_imports_no_framework():
    code = (
        'import sys; from pnav_lab.model_facts import find_model; find_model((object(),), {"m": 1}, [2]); '
        'print(sorted(m for m in ("torch","tensorflow","keras","sklearn") if m in sys.modules))'
    )
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True).stdout.strip() == '[]'


def test_sklearn_models():
    pytest.importorskip('sklearn', reason='scikit-learn not installed: sklearn facts SKIPPED')
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    x, y = np.random.rand(40, 6), np.arange(40) % 2
    logistic = LogisticRegression().fit(x, y)
    assert model_facts(logistic) == {
        'framework': 'sklearn',
        'nParameters': 7,
        'nFeatures': 6,
        'name': 'LogisticRegression',
    }
    tree = DecisionTreeRegressor(max_depth=2).fit(x, y)
    assert model_facts(tree)['nParameters'] == tree.tree_.node_count
    forest = RandomForestClassifier(n_estimators=3, max_depth=2).fit(x, y)
    assert model_facts(forest)['nParameters'] == sum(t.tree_.node_count for t in forest.estimators_)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # five iterations do not converge, and need not
        mlp = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5).fit(x, y)
    assert model_facts(mlp)['nParameters'] == 6 * 4 + 4 + 4 * 1 + 1
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    assert model_facts(pipeline)['nParameters'] == 7 and model_facts(pipeline)['nFeatures'] == 6
    assert model_facts(LogisticRegression())['nParameters'] == 0  # not fitted


def test_torch_models():
    torch = pytest.importorskip('torch', reason='PyTorch not installed: torch facts SKIPPED')
    net = torch.nn.Sequential(torch.nn.BatchNorm1d(10), torch.nn.Linear(10, 5))
    assert model_facts(net)['nParameters'] == 20 + 55
    assert model_facts(net)['nFeatures'] == 10


def test_keras_models():
    keras = pytest.importorskip('keras', reason='Keras not installed: Keras facts SKIPPED')
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10)])
    facts = model_facts(model)
    assert facts['nParameters'] == 7850 and facts['nFeatures'] == [784]


def test_numpy_model_with_parameters_method():
    np = pytest.importorskip('numpy', reason='numpy not installed: NumPy model facts test SKIPPED')

    class TwoLayer:
        def __init__(self):
            self.W1, self.b1 = np.zeros((2, 16)), np.zeros(16)
            self.W2, self.b2 = np.zeros((16, 3)), np.zeros(3)

        def parameters(self):
            return [self.W1, self.b1, self.W2, self.b2]

    assert model_facts(TwoLayer()) == {
        'framework': 'numpy',
        'nParameters': 2 * 16 + 16 + 16 * 3 + 3,
        'nFeatures': 2,
        'name': 'TwoLayer',
    }


def test_parameters_method_without_arrays_is_not_a_model():
    class Config:
        def parameters(self):
            return {'lr': 0.1}

    assert model_facts(Config()) is None
