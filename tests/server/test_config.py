"""llamasys.toml + environment + flags: one name per setting, precedence, and clear errors."""

import pytest

from llamasys.apps.config import NAMES, ConfigError, config_path, env_name, load_settings


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(env={"LLAMASYS_HOME": str(tmp_path)})
    assert s.model == "smollm2-135m-tools"
    assert (s.serve.host, s.serve.port) == ("127.0.0.1", 8000)
    assert s.serve.api_key is None and s.quantization_arg is None
    assert s.source("serve.port") == "default" and s.path_ is None


def test_precedence_flag_over_env_over_file(tmp_path):
    cfg = write(
        tmp_path / "llamasys.toml",
        'model = "from-file"\nquantization = "int8"\n[serve]\nport = 9001\nhost = "0.0.0.0"\n',
    )
    s = load_settings(
        cfg,
        env={"LLAMASYS_SERVE_PORT": "9002", "LLAMASYS_MODEL": "from-env"},
        overrides={"model": "from-flag"},
    )
    assert s.model == "from-flag" and s.source("model") == "flag"
    assert s.serve.port == 9002 and s.source("serve.port") == "env"
    assert s.serve.host == "0.0.0.0" and s.source("serve.host") == "file"
    assert s.quantization_arg == "int8"
    # a flag that was not given (None) leaves the lower layers alone
    assert load_settings(cfg, env={}, overrides={"model": None, "serve": {"port": None}}).serve.port == 9001


def test_every_setting_has_one_env_name_and_lists_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = {env_name(n) for n in NAMES}
    assert len(names) == len(NAMES)
    assert env_name("serve.port") == "LLAMASYS_SERVE_PORT"
    assert env_name("tools.brave_search_api_key") == "BRAVE_SEARCH_API_KEY"
    s = load_settings(
        env={
            "LLAMASYS_TOOLS_ENABLED": "web_search, code_interpreter",
            "LLAMASYS_SHIELDS_INPUT": "",
            "WOLFRAM_ALPHA_API_KEY": "wa-secret-123",
            "LLAMASYS_SERVE_INPUT_SHIELDS": "true",
        }
    )
    assert s.tools.enabled == ["web_search", "code_interpreter"]
    assert s.shields.input == []
    assert s.serve.input_shields is True
    assert s.environment() == {"WOLFRAM_ALPHA_API_KEY": "wa-secret-123"}
    assert "wa-secret-123" not in repr(s)  # keys are secrets


def test_file_found_in_cwd_or_through_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "llamasys.toml", 'device = "cpu"\n')
    assert config_path(env={}) == tmp_path / "llamasys.toml"
    other = write(tmp_path / "other.toml", 'device = "cuda"\n')
    assert load_settings(env={"LLAMASYS_CONFIG": str(other)}).device == "cuda"
    with pytest.raises(ConfigError, match="LLAMASYS_CONFIG names"):
        load_settings(env={"LLAMASYS_CONFIG": str(tmp_path / "missing.toml")})


def test_errors_name_the_source_and_the_fix(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown setting 'serve.prot'.*serve.port"):
        load_settings(write(tmp_path / "a.toml", "[serve]\nprot = 1\n"), env={})
    with pytest.raises(ConfigError, match=r"serve.port \(from LLAMASYS_SERVE_PORT\)"):
        load_settings(env={"LLAMASYS_SERVE_PORT": "eighty", "LLAMASYS_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"quantization \(from .*b.toml\)"):
        load_settings(write(tmp_path / "b.toml", 'quantization = "int4"\n'), env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path / "c.toml", "model = \n"), env={})
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(env={}).get("nope")
