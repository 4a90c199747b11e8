"""Registry: registration errors, unknown names, strict component configs."""
from dataclasses import dataclass

import pytest

from audiotext.config import ConfigError
from audiotext.registry import Registry, RegistryError


class Base:
    pass


def make_registry():
    return Registry("widget", Base)


def test_register_and_build_roundtrip():
    reg = make_registry()

    @reg.register("a")
    class A(Base):
        @dataclass
        class Config:
            size: int = 3
            name: str = "x"

        def __init__(self, conf, extra=None):
            self.conf = conf
            self.extra = extra

    assert reg.get("a") is A
    assert A.registry_name == "a"
    assert "a" in reg and list(reg) == ["a"] and reg.names() == ["a"]
    obj = reg.build("a", {"size": 7}, extra=5)
    assert isinstance(obj, A)
    assert obj.conf.size == 7 and obj.conf.name == "x" and obj.extra == 5
    assert reg.build("a").conf.size == 3  # no conf -> defaults


def test_duplicate_name_names_both_classes():
    reg = make_registry()

    @reg.register("dup")
    class First(Base):
        @dataclass
        class Config:
            pass

    class Second(Base):
        @dataclass
        class Config:
            pass

    with pytest.raises(RegistryError) as info:
        reg.register("dup")(Second)
    msg = str(info.value)
    assert "'dup'" in msg
    assert f"{First.__module__}.{First.__qualname__}" in msg
    assert f"{Second.__module__}.{Second.__qualname__}" in msg
    assert reg.get("dup") is First  # the first registration is untouched


def test_wrong_base_class_fails():
    reg = make_registry()

    class NotAWidget:
        @dataclass
        class Config:
            pass

    with pytest.raises(RegistryError) as info:
        reg.register("bad")(NotAWidget)
    msg = str(info.value)
    assert "NotAWidget" in msg and "subclass" in msg and "Base" in msg
    assert "bad" not in reg


def test_non_class_fails():
    reg = make_registry()
    with pytest.raises(RegistryError):
        reg.register("fn")(lambda conf: None)
    assert reg.names() == []


@pytest.mark.parametrize("config", [None, dict, type("Plain", (), {})], ids=["missing", "not-a-class", "plain-class"])
def test_class_without_dataclass_config_fails(config):
    reg = make_registry()
    attrs = {} if config is None else {"Config": config}
    cls = type("NoConfig", (Base,), attrs)
    with pytest.raises(RegistryError) as info:
        reg.register("nc")(cls)
    assert "Config" in str(info.value) and "'nc'" in str(info.value)
    assert "nc" not in reg


@pytest.mark.parametrize("name", ["", None, 3])
def test_bad_name_fails(name):
    with pytest.raises(RegistryError):
        make_registry().register(name)


def test_unknown_name_lists_valid_names():
    reg = make_registry()
    for name in ("zeta", "alpha"):
        reg.register(name)(type(name, (Base,), {"Config": dataclass(type("Config", (), {}))}))
    with pytest.raises(RegistryError) as info:
        reg.get("gamma")
    msg = str(info.value)
    assert "'gamma'" in msg
    assert "valid names: alpha, zeta" in msg
    with pytest.raises(RegistryError):
        reg.build("gamma", {})


def test_unknown_name_in_empty_registry():
    with pytest.raises(RegistryError, match=r"\(none\)"):
        make_registry().get("x")


def test_build_rejects_unknown_key_with_path():
    reg = make_registry()

    @reg.register("enc")
    class Enc(Base):
        @dataclass
        class Config:
            num_layers: int = 2
            d_model: int = 8

        def __init__(self, conf):
            self.conf = conf

    with pytest.raises(ConfigError) as info:
        reg.build("enc", {"num_layrs": 3}, where="encoder_conf")
    msg = str(info.value)
    assert "encoder_conf.num_layrs" in msg
    assert "d_model" in msg and "num_layers" in msg  # the valid keys are listed
    # default path when no `where` is given: "<kind>_conf.<key>"
    with pytest.raises(ConfigError, match=r"widget_conf\.num_layrs"):
        reg.build("enc", {"num_layrs": 3})
    # a wrong type names the key as well
    with pytest.raises(ConfigError, match=r"encoder_conf\.d_model"):
        reg.build("enc", {"d_model": "big"}, where="encoder_conf")


def test_real_encoder_registry():
    from audiotext.models.encoders import ENCODERS
    from audiotext.models.encoders.transformer import TransformerAudioEncoder

    assert "transformer" in ENCODERS
    assert ENCODERS.get("transformer") is TransformerAudioEncoder
    with pytest.raises(RegistryError) as info:
        ENCODERS.get("conformer-nonexistent")
    msg = str(info.value)
    assert "conformer-nonexistent" in msg and "transformer" in msg.split("valid names:")[1]
    with pytest.raises(ConfigError, match=r"encoder_conf\.num_layrs"):
        ENCODERS.build("transformer", {"num_layrs": 1}, where="encoder_conf")
    enc = ENCODERS.build("transformer", {"d_model": 16, "num_layers": 1, "num_heads": 2, "d_ff": 32,
                                         "subsampling_channels": 4}, where="encoder_conf")
    assert enc.output_dim == 16 and len(enc.blocks) == 1
