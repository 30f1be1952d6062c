"""The compile study (docs/benchmark/compile_study.py) times its own copy of
the default step's differentiable part: that copy must compute the package's
loss terms from the same draws, or its timings are of another step."""

import numpy as np
import pytest
import torch

from tests._helpers import load_study


@pytest.fixture
def study():
    return load_study("compile_study")


def test_step_terms_are_the_objectives(study):
    X = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
    run = study.start_run(X, study.DEFAULT_PARAMS, "cpu", batch_size=64)
    batch = next(run.data.epoch_batches(64, run.generator))
    state = run.generator.get_state()
    expected = run.objective.batch_losses(run.model, batch, run.pool, run.generator)

    # The study's draws, in the step's order, from the same generator state.
    run.generator.set_state(state)
    stacked, noise = study.draw_inputs(run, batch)
    terms = study.step_terms(run.model, run.objective)
    actual = terms(stacked.numeric, stacked.observed, stacked.categorical, noise)

    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
    # Different draws give different terms: the comparison is not vacuous.
    other = terms(stacked.numeric, stacked.observed, stacked.categorical, -noise)
    assert not torch.allclose(other[2:], expected[2:])


def test_product_recorder_sees_every_counted_product(study):
    X = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
    run = study.start_run(X, study.DEFAULT_PARAMS, "cpu", batch_size=64)
    with study._skssl_loop(run) as (_, step):
        recorder = study.ProductRecorder()
        with recorder:
            step()
        flops = study.count_flops(step)

    def product_flops(func, operands):
        a, b = operands[-2:] if func != torch.ops.aten.mm.default else operands
        return 2 * a.shape[0] * a.shape[1] * b.shape[1]

    recorded = sum(product_flops(f, operands) for f, operands, _ in recorder.calls)
    assert recorder.calls and recorded == flops
    assert study.replay_seconds(recorder.calls, repeats=1, rounds=1) > 0
