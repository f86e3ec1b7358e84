"""Each of the 11 rules: a series that must trigger it and one that must not."""

from __future__ import annotations

import numpy as np
import pytest
from profiling_testkit import T0, make_epochs, make_profile, make_steps, make_system

from classifier.profiling.rules import RULES, RuleResult, evaluate_rules
from classifier.profiling.series import ProfileData, StepSeries


def _rule(data: ProfileData, name: str) -> RuleResult:
    results = {r.name: r for r in evaluate_rules(data)}
    assert set(results) == set(RULES)
    return results[name]


def _assert_status(data: ProfileData, name: str, status: str) -> RuleResult:
    result = _rule(data, name)
    assert result.status == status, result.details
    # a quiet verdict must come from judging the data, not from having too little of it
    assert not result.details.startswith("Only"), result.details
    return result


def _cuda_profile(gpu_util, gpu_memory=None, *, cpu: float = 50.0, n: int = 60, **kw) -> ProfileData:
    steps = make_steps(n)
    system = make_system(steps, cpu=cpu, gpu_util=gpu_util, gpu_memory=gpu_memory)
    return make_profile(steps, system, device="cuda", **kw)


# -- StepOutlier -------------------------------------------------------------------------------


def _steps_with_slow(n: int, slow: int) -> StepSeries:
    rng = np.random.default_rng(0)
    data = 0.01 + rng.uniform(0, 0.005, n)
    data[np.linspace(5, n - 5, slow).astype(int)] = 1.0
    return make_steps(n, data=data)


def test_step_outlier_triggers_on_more_than_ten_slow_steps() -> None:
    result = _assert_status(make_profile(_steps_with_slow(500, 12)), "StepOutlier", "IssuesFound")
    assert result.observed["outliers"] == 12
    assert result.observed["outlier_limit_seconds"] < 1.0


def test_step_outlier_tolerates_up_to_ten_slow_steps() -> None:
    result = _assert_status(make_profile(_steps_with_slow(500, 5)), "StepOutlier", "NoIssuesFound")
    assert result.observed["outliers"] == 5


# -- GPUMemoryIncrease ---------------------------------------------------------------------------


def test_gpu_memory_increase_triggers_on_a_jump() -> None:
    steps = make_steps(200)
    n = make_system(steps).time.size
    memory = np.where(np.arange(n) < n // 2, 30.0, 50.0)
    data = make_profile(steps, make_system(steps, gpu_util=[95.0], gpu_memory=[memory]), device="cuda")
    result = _assert_status(data, "GPUMemoryIncrease", "IssuesFound")
    assert result.observed["max_increase_percent_points"]["gpu0 Test GPU"] == pytest.approx(20.0)


def test_gpu_memory_increase_quiet_when_flat() -> None:
    rng = np.random.default_rng(1)
    steps = make_steps(200)
    n = make_system(steps).time.size
    data = make_profile(
        steps, make_system(steps, gpu_util=[95.0], gpu_memory=[40 + rng.uniform(-1, 1, n)]), device="cuda"
    )
    _assert_status(data, "GPUMemoryIncrease", "NoIssuesFound")


def test_gpu_rules_do_not_apply_on_cpu() -> None:
    data = make_profile()
    for name in ("GPUMemoryIncrease", "LowGPUUtilization", "BatchSize", "LoadBalancing"):
        result = _assert_status(data, name, "NoIssuesFound")
        assert not result.applicable
        assert result.details.startswith("Does not apply")
        assert "CPU" in result.details


# -- IOBottleneck --------------------------------------------------------------------------------


def _data_bound_steps() -> StepSeries:
    # 95% of every step is spent waiting for data
    return make_steps(20, data=0.95, forward=0.02, backward=0.02, optimizer=0.01)


def test_io_bottleneck_triggers_when_cpu_job_waits_on_io() -> None:
    steps = _data_bound_steps()
    result = _assert_status(
        make_profile(steps, make_system(steps, iowait=70.0)), "IOBottleneck", "IssuesFound"
    )
    assert result.observed["bottleneck_percent"] > 50


def test_io_bottleneck_triggers_when_gpu_idles_on_io() -> None:
    data = _cuda_profile([2.0], gpu_memory=[30.0])
    data.system.iowait[:] = 80.0
    _assert_status(data, "IOBottleneck", "IssuesFound")


def test_io_bottleneck_quiet_without_io_wait() -> None:
    steps = _data_bound_steps()
    _assert_status(make_profile(steps, make_system(steps, iowait=3.0)), "IOBottleneck", "NoIssuesFound")


def test_io_bottleneck_quiet_when_compute_bound_despite_io_wait() -> None:
    steps = make_steps(40, data=0.01)
    _assert_status(make_profile(steps, make_system(steps, iowait=70.0)), "IOBottleneck", "NoIssuesFound")


# -- Dataloader ----------------------------------------------------------------------------------


def test_dataloader_triggers_on_too_few_workers_when_loop_waits() -> None:
    steps = make_steps(40, data=0.2)  # 57% of step time waiting for data
    result = _assert_status(make_profile(steps, num_workers=0, cpu_count=4), "Dataloader", "IssuesFound")
    assert result.observed["data_wait_percent_of_step_time"] > 50


def test_dataloader_triggers_on_too_many_workers() -> None:
    result = _assert_status(make_profile(num_workers=16, cpu_count=4), "Dataloader", "IssuesFound")
    assert result.observed["workers_percent_of_cores"] == 400


def test_dataloader_quiet_with_workers_matching_cores() -> None:
    _assert_status(
        make_profile(make_steps(40, data=0.2), num_workers=4, cpu_count=4), "Dataloader", "NoIssuesFound"
    )


def test_dataloader_quiet_with_few_workers_when_data_wait_is_negligible() -> None:
    result = _assert_status(
        make_profile(make_steps(40, data=0.002), num_workers=0, cpu_count=4), "Dataloader", "NoIssuesFound"
    )
    assert "does not slow training" in result.details


# -- BatchSize -----------------------------------------------------------------------------------


def test_batch_size_triggers_when_cpu_gpu_and_memory_are_all_low() -> None:
    result = _assert_status(_cuda_profile([30.0], [20.0], cpu=20.0), "BatchSize", "IssuesFound")
    assert result.observed["underused_gpus"] == [0]


def test_batch_size_quiet_when_gpu_is_busy() -> None:
    _assert_status(_cuda_profile([90.0], [20.0], cpu=20.0), "BatchSize", "NoIssuesFound")


# -- CPUBottleneck -------------------------------------------------------------------------------


def test_cpu_bottleneck_triggers_when_cpu_saturated_and_loop_waits_for_data() -> None:
    steps = _data_bound_steps()
    _assert_status(make_profile(steps, make_system(steps, cpu=98.0)), "CPUBottleneck", "IssuesFound")


def test_cpu_bottleneck_triggers_when_gpu_idles_and_cpu_saturated() -> None:
    _assert_status(_cuda_profile([3.0], [30.0], cpu=97.0), "CPUBottleneck", "IssuesFound")


def test_cpu_bottleneck_quiet_when_busy_cpu_is_training() -> None:
    steps = make_steps(40, data=0.01)
    _assert_status(make_profile(steps, make_system(steps, cpu=98.0)), "CPUBottleneck", "NoIssuesFound")


def test_cpu_bottleneck_quiet_when_cpu_not_saturated() -> None:
    steps = _data_bound_steps()
    _assert_status(make_profile(steps, make_system(steps, cpu=45.0)), "CPUBottleneck", "NoIssuesFound")


# -- LoadBalancing -------------------------------------------------------------------------------


def test_load_balancing_triggers_on_unequal_gpus() -> None:
    result = _assert_status(_cuda_profile([95.0, 10.0]), "LoadBalancing", "IssuesFound")
    assert result.observed["max_histogram_distance"] == pytest.approx(1.0)


def test_load_balancing_quiet_on_equal_gpus() -> None:
    rng = np.random.default_rng(2)
    steps = make_steps(60)
    n = make_system(steps).time.size
    util = [88 + rng.uniform(0, 4, n), 88 + rng.uniform(0, 4, n)]
    data = make_profile(steps, make_system(steps, gpu_util=util), device="cuda")
    _assert_status(data, "LoadBalancing", "NoIssuesFound")


def test_load_balancing_not_applicable_on_one_gpu() -> None:
    result = _assert_status(_cuda_profile([95.0]), "LoadBalancing", "NoIssuesFound")
    assert not result.applicable
    assert "single GPU" in result.details


# -- MaxInitializationTime -----------------------------------------------------------------------


def test_max_initialization_time_triggers_after_twenty_minutes() -> None:
    steps = make_steps(10, start=T0 + 25 * 60)
    result = _assert_status(make_profile(steps), "MaxInitializationTime", "IssuesFound")
    assert result.observed["initialization_seconds"] == pytest.approx(1500.0)


def test_max_initialization_time_quiet_for_fast_start() -> None:
    _assert_status(make_profile(make_steps(10, start=T0 + 30)), "MaxInitializationTime", "NoIssuesFound")


# -- LowGPUUtilization ---------------------------------------------------------------------------


def test_low_gpu_utilization_triggers_when_underutilized() -> None:
    result = _assert_status(_cuda_profile([30.0]), "LowGPUUtilization", "IssuesFound")
    assert "underutilised" in result.details


def test_low_gpu_utilization_triggers_when_fluctuating() -> None:
    steps = make_steps(60)
    n = make_system(steps).time.size
    util = np.where(np.arange(n) % 2 == 0, 95.0, 0.0)
    data = make_profile(steps, make_system(steps, gpu_util=[util]), device="cuda")
    result = _assert_status(data, "LowGPUUtilization", "IssuesFound")
    assert "fluctuates" in result.details


def test_low_gpu_utilization_quiet_when_busy() -> None:
    _assert_status(_cuda_profile([92.0]), "LowGPUUtilization", "NoIssuesFound")


def test_warm_up_samples_before_first_step_are_ignored() -> None:
    # GPU idle for the 5 s before training starts (loading data, building the model), then busy
    steps = make_steps(60)
    system = make_system(steps, gpu_util=[92.0])
    system.gpu_util[system.time < steps.start[0] + steps.total[0]] = 0.0
    _assert_status(make_profile(steps, system, device="cuda"), "LowGPUUtilization", "NoIssuesFound")


# -- LossNotDecreasing ---------------------------------------------------------------------------


def test_loss_not_decreasing_triggers_on_plateau() -> None:
    data = make_profile(epochs=make_epochs([2.0, 1.5, 1.5]))
    result = _assert_status(data, "LossNotDecreasing", "IssuesFound")
    assert "epoch 3" in result.details


def test_loss_not_decreasing_triggers_on_increase() -> None:
    data = make_profile(epochs=make_epochs([1.0, 0.8, 0.9]))
    result = _assert_status(data, "LossNotDecreasing", "IssuesFound")
    assert "rose" in result.details


def test_loss_not_decreasing_quiet_while_loss_falls() -> None:
    _assert_status(make_profile(epochs=make_epochs([2.0, 1.5, 1.2])), "LossNotDecreasing", "NoIssuesFound")


def test_loss_not_decreasing_needs_two_epochs() -> None:
    result = _assert_status(make_profile(epochs=make_epochs([2.0])), "LossNotDecreasing", "NoIssuesFound")
    assert not result.applicable


# -- Overfit -------------------------------------------------------------------------------------


def test_overfit_triggers_when_valid_loss_far_above_train_loss() -> None:
    data = make_profile(epochs=make_epochs([1.0, 0.5], [1.0, 0.8]))
    result = _assert_status(data, "Overfit", "IssuesFound")
    assert result.observed["epochs_over_threshold"] == [2]


def test_overfit_quiet_when_losses_close() -> None:
    _assert_status(make_profile(epochs=make_epochs([1.0, 0.5], [0.95, 0.52])), "Overfit", "NoIssuesFound")


def test_overfit_quiet_when_only_the_first_epochs_from_scratch_validate_worse() -> None:
    """The demo's shape: a random-init model validates far worse after epoch 1, then catches up."""
    data = make_profile(epochs=make_epochs([1.308, 0.95, 0.74, 0.62], [2.3735, 1.31, 0.80, 0.58]))
    result = _assert_status(data, "Overfit", "NoIssuesFound")
    assert result.observed["ratio_per_epoch"]["1"] > 0.8  # the old one-epoch check fired here
    assert result.observed["epochs_over_threshold"] == []


def test_overfit_quiet_when_the_gap_is_wide_but_not_widening() -> None:
    data = make_profile(epochs=make_epochs([1.0, 0.8, 0.6, 0.5], [1.5, 1.2, 0.93, 0.76]))
    _assert_status(data, "Overfit", "NoIssuesFound")


def test_overfit_triggers_when_the_gap_keeps_widening_with_patience() -> None:
    data = make_profile(epochs=make_epochs([1.0, 0.8, 0.6, 0.4, 0.3], [1.0, 0.95, 0.9, 0.95, 1.0]))
    results = {r.name: r for r in evaluate_rules(data, {"Overfit": {"patience": 3}})}
    assert results["Overfit"].status == "IssuesFound", results["Overfit"].details
    assert results["Overfit"].observed["epochs_over_threshold"] == [2, 3, 4, 5]


def test_overfit_needs_two_epochs() -> None:
    result = _assert_status(make_profile(epochs=make_epochs([1.0], [3.0])), "Overfit", "NoIssuesFound")
    assert not result.applicable


# -- evaluation as a whole -----------------------------------------------------------------------


def test_a_rule_that_raises_becomes_an_error_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    from classifier.profiling import rules

    def broken(data: ProfileData, params: object) -> rules.Outcome:
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(
        rules.RULES,
        "Overfit",
        rules.RULES["Overfit"].__class__(**{**rules.RULES["Overfit"].__dict__, "evaluate": broken}),
    )
    result = _rule(make_profile(), "Overfit")
    assert result.status == "Error"
    assert "ZeroDivisionError: boom" in result.details


def test_parameters_override_defaults_and_unknown_ones_are_rejected() -> None:
    data = make_profile(_steps_with_slow(500, 5))
    results = {r.name: r for r in evaluate_rules(data, {"StepOutlier": {"n_outliers": 2}})}
    assert results["StepOutlier"].status == "IssuesFound"
    assert results["StepOutlier"].parameters["n_outliers"] == 2
    with pytest.raises(ValueError, match="unknown parameter"):
        evaluate_rules(data, {"StepOutlier": {"sigma": 2}})
    with pytest.raises(ValueError, match="unknown rule"):
        evaluate_rules(data, {"NoSuchRule": {}})


def test_rules_json_entry_has_describe_training_job_shape() -> None:
    entry = _rule(make_profile(), "StepOutlier").to_json()
    assert set(entry) == {
        "RuleConfigurationName",
        "RuleEvaluationStatus",
        "StatusDetails",
        "LastModifiedTime",
        "Details",
        "Recommendation",
    }
    assert entry["Details"]["Parameters"] == {"stddev": 3.0, "n_outliers": 10.0}
    assert entry["Details"]["DifferenceFromSageMaker"]
    assert isinstance(entry["LastModifiedTime"], float)


def test_empty_profile_evaluates_without_errors() -> None:
    data = make_profile(make_steps(0), make_system(make_steps(1)), [])
    results = evaluate_rules(data)
    assert [r.status for r in results if r.status == "Error"] == []


def test_data_wait_fraction_and_training_mask_follow_the_step_marks() -> None:
    from classifier.profiling.rules import data_wait_fraction, training_sample_mask
    from classifier.profiling.series import EpochRecord, JobInfo, SystemSeries

    # steps of 1 s from t=10: the first 0.75 s of each is data wait; samples every 0.5 s from t=8
    steps = make_steps(8, data=0.75, forward=0.25, backward=0.0, optimizer=0.0, start=10.0)
    system = SystemSeries(
        time=np.arange(8.5, 18.01, 0.5),
        cpu_per_core=np.zeros((20, 1)),
        iowait=np.zeros(20),
        memory_percent=np.zeros(20),
    )
    data = ProfileData(steps, system, [EpochRecord(1, {}, 0.0)], JobInfo())
    waits = data_wait_fraction(data)
    mask = training_sample_mask(data)
    by_time = dict(zip(system.time.tolist(), zip(waits.tolist(), mask.tolist(), strict=True), strict=True))
    assert by_time[10.0] == (0.0, False)  # before training
    assert by_time[10.5] == (1.0, False)  # inside the first step (warm-up)
    assert by_time[11.5] == (1.0, True)  # [11.0, 11.5]: all data wait
    assert by_time[12.0] == (0.5, True)  # [11.5, 12.0]: 0.25 s data wait, 0.25 s forward
    assert by_time[18.0] == (0.5, True)
