"""Config loading, validation messages and --set overrides."""
from pathlib import Path

import pytest

from nnpipe.config import ConfigError, apply_overrides, from_dict, load_config, read_yaml

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize("name", ["mlp", "cnn", "skipgram"])
def test_shipped_configs_are_valid(name):
    path = CONFIGS / f"{name}.yaml"
    if not path.exists():
        pytest.fail(f"{path} is missing")
    config = load_config(path)
    assert config.model["name"] == name and config.run.name == name


def test_defaults_are_filled_and_model_options_resolved():
    config = from_dict({"model": {"name": "cnn"}})
    assert config.model["channels"] == [32, 64] and config.optimizer.name == "adam"
    assert isinstance(config.optimizer.lr, float)


@pytest.mark.parametrize("raw,message", [
    ({"optimiser": {}}, "optimiser: unknown key (did you mean 'optimizer'?)"),
    ({"train": {"epoch": 3}}, "train.epoch: unknown key (did you mean 'epochs'?)"),
    ({"model": {"name": "mlp", "hiden": [3]}}, "model.hiden: unknown key (did you mean 'hidden'?)"),
    ({"data": {"batch_size": "big"}}, "data.batch_size: expected an integer, got 'big'"),
    ({"train": {"epochs": 2.5}}, "train.epochs: expected an integer"),
    ({"optimizer": {"lr": 0}}, "optimizer.lr: must be > 0"),
    ({"data": {"batch_size": 0}}, "data.batch_size: must be >= 1"),
    ({"model": {"name": "mlp", "dropout": 1.0}}, "model.dropout: must be in [0, 1)"),
    ({"model": {"name": "skipgram"}, "data": {"name": "text"}, "loss": {"name": "sgns", "reduction": "avg"}},
     "loss.reduction: must be one of sum, mean, got 'avg'"),
    ({"model": {"name": "glove"}, "data": {"name": "cooccurrence", "weighting": "harmonc"}, "loss": {"name": "glove"}},
     "data.weighting: must be one of harmonic, uniform, got 'harmonc'"),
    ({"model": {"name": "glove"}, "data": {"name": "cooccurrence"}, "loss": {"name": "glove", "x_max": 0}},
     "loss.x_max: must be > 0"),
    ({"model": {"name": "svd", "shift": 0}, "data": {"name": "cooccurrence"}, "loss": {"name": "ppmi_svd"}},
     "model.shift: must be > 0"),
    ({"model": {"name": "mlp", "activation": "swish"}}, "model.activation: must be one of relu, leaky_relu"),
    ({"model": {"name": "cnn", "init": "foo"}}, "model.init: must be one of kaiming_uniform"),
    ({"model": {"name": "mlp", "hidden": [64, 0]}}, "model.hidden: must be >= 1, got [64, 0]"),
    ({"optimizer": {"name": "rmsprop", "alpha": 1.0}}, "optimizer.alpha: must be in [0, 1), got 1.0"),
    ({"optimizer": {"name": "adam", "betas": [0.9]}}, "optimizer.betas: must be two numbers"),
    ({"run": {"name": "../elsewhere"}}, "run.name: must be a plain folder name (no path)"),
    ({"model": {"name": "resnet"}}, "model.name: unknown model 'resnet'; valid: cbow, cnn, glove, mlp, skipgram, svd"),
    ({"optimizer": {"name": "adamm"}}, "optimizer.name: unknown optimizer 'adamm' (did you mean 'adam'?)"),
    ({"loss": {"name": "hinge"}}, "loss.name: unknown loss 'hinge'"),
    ({"train": {"checkpoint_every": "weekly"}}, "train.checkpoint_every: expected an integer or 'epoch', got 'weekly'"),
    ({"seed": None}, "seed: expected an integer, got None"),
    ({"data": "mnist"}, "data: expected a mapping"),
])
def test_validation_names_the_dotted_path(raw, message):
    with pytest.raises(ConfigError) as caught:
        from_dict(raw)
    assert message in str(caught.value)


def test_several_problems_are_reported_together():
    with pytest.raises(ConfigError) as caught:
        from_dict({"optimizer": {"lr": "fast"}, "trian": {}})
    assert "optimizer.lr" in str(caught.value) and "trian" in str(caught.value)


def test_malformed_yaml_reports_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seed: 0\nmodel:\n  name: mlp\n   hidden: [1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:4:\d+: malformed YAML"):
        read_yaml(path)


def test_missing_config_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        read_yaml(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        read_yaml(tmp_path / "list.yaml")


def test_overrides_parse_yaml_values_and_create_sections():
    raw = apply_overrides({"model": {"name": "mlp"}}, [
        "optimizer.lr=0.01", "model.hidden=[512]", "train.early_stopping.patience=2", "data.shuffle=false",
        "run.name=custom",
    ])
    config = from_dict(raw)
    assert config.optimizer.lr == 0.01 and config.model["hidden"] == [512]
    assert config.train.early_stopping.patience == 2 and config.data.shuffle is False


@pytest.mark.parametrize("override,message", [
    ("optimizer.lr", "expected key.path=value"),
    ("=3", "empty key"),
    ("seed.x=1", "seed is not a section"),
    ("model.hidden=[1", "not valid YAML"),
])
def test_bad_overrides_are_clear(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides({"seed": 0}, [override])


def test_override_of_unknown_key_is_validated_with_suggestion(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {name: mlp}\n")
    with pytest.raises(ConfigError, match=r"optimizer.learning_rate: unknown key"):
        load_config(path, ["optimizer.learning_rate=0.1"])


def test_an_option_name_means_only_what_its_component_says():
    """RMSProp's decay ``alpha`` must be below 1; GloVe's weighting exponent ``alpha`` may be 1
    (each component declares its own limits; none is shared by name)."""
    glove = from_dict({"model": {"name": "glove"}, "data": {"name": "cooccurrence"},
                       "loss": {"name": "glove", "alpha": 1.0}, "optimizer": {"name": "adagrad"}})
    assert glove.loss.alpha == 1.0
    with pytest.raises(ConfigError, match=r"loss.alpha: must be >= 0"):
        from_dict({"model": {"name": "glove"}, "data": {"name": "cooccurrence"},
                   "loss": {"name": "glove", "alpha": -1}})


def test_negatives_belong_to_the_text_data_that_draws_them():
    config = from_dict({"model": {"name": "skipgram"}, "data": {"name": "text", "negatives": 10},
                        "loss": {"name": "sgns"}})
    assert config.data.negatives == 10
    with pytest.raises(ConfigError, match=r"model.negatives: unknown key"):
        from_dict({"model": {"name": "skipgram", "negatives": 10}, "data": {"name": "text"}, "loss": {"name": "sgns"}})
