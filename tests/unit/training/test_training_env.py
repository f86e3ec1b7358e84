"""The SM_* environment with /opt/ml defaults."""

from pathlib import Path

from classifier.env import TrainingEnvironment


def test_defaults_follow_the_sagemaker_layout():
    env = TrainingEnvironment.from_environ({})
    assert env.model_dir == Path("/opt/ml/model")
    assert env.output_data_dir == Path("/opt/ml/output/data")
    assert env.output_dir == Path("/opt/ml/output")
    assert env.num_gpus == 0


def test_channels_hosts_and_hyperparameters_come_from_the_environment(tmp_path):
    env = TrainingEnvironment.from_environ(
        {
            "SM_CHANNEL_TRAIN": str(tmp_path / "train"),
            "SM_CHANNEL_WEIGHTS": str(tmp_path / "w"),
            "SM_HOSTS": '["algo-1", "algo-2"]',
            "SM_CURRENT_HOST": "algo-2",
            "SM_NUM_GPUS": "4",
            "SM_HPS": '{"epochs": 3}',
            "SM_MODEL_DIR": str(tmp_path / "model"),
        }
    )
    assert env.channels["train"] == tmp_path / "train"
    assert env.channels["weights"] == tmp_path / "w"
    assert env.hosts == ["algo-1", "algo-2"]
    assert env.current_host == "algo-2"
    assert env.num_gpus == 4
    assert env.hyperparameters == {"epochs": 3}


def test_checkpoint_dir_prefers_sm_checkpoint_dir(tmp_path):
    env = TrainingEnvironment.from_environ({"SM_CHECKPOINT_DIR": str(tmp_path / "ck")})
    assert env.resolve_checkpoint_dir() == tmp_path / "ck"


def test_checkpoint_dir_falls_back_next_to_the_model_dir(tmp_path, monkeypatch):
    monkeypatch.setattr("classifier.env._OPT_ML", tmp_path / "no-such-opt-ml")
    env = TrainingEnvironment.from_environ({"SM_MODEL_DIR": str(tmp_path / "job" / "model")})
    assert env.resolve_checkpoint_dir() == tmp_path / "job" / "checkpoints"
    assert not (tmp_path / "no-such-opt-ml").exists()
