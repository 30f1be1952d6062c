"""Does GridSearchCV(n_jobs=2) beat n_jobs=1 on a 2-core machine?

Each joblib worker gets an equal share of the cores as its thread budget
(joblib sets OMP_NUM_THREADS in its worker processes, and torch reads it), so
two workers with one thread each should not oversubscribe. This script times
the same search both ways and checks the results are identical.

Run: python examples/search_threads.py
"""

import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skssl import ContrastiveVAETransformer


def main():
    X, y = make_classification(5000, n_features=20, n_informative=10, random_state=0)
    for epochs in (5, 30):
        compare(X, y, epochs)


def compare(X, y, epochs):
    pipe = make_pipeline(
        ContrastiveVAETransformer(max_epochs=epochs, random_state=0),
        LogisticRegression(max_iter=1000),
    )
    grid = {"contrastivevaetransformer__temperature": [0.1, 0.2, 0.5, 1.0]}
    scores = {}
    for n_jobs in (1, 2):
        search = GridSearchCV(pipe, grid, cv=2, n_jobs=n_jobs)
        start = time.perf_counter()
        search.fit(X, y)
        seconds = time.perf_counter() - start
        scores[n_jobs] = search.cv_results_["mean_test_score"]
        print(f"max_epochs={epochs}, n_jobs={n_jobs}: {seconds:.1f} s for 8 fits")
    print("identical results:", np.array_equal(scores[1], scores[2]))


if __name__ == "__main__":
    main()
