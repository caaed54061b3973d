"""The validated ``shipline.yaml``."""

from shipline.config.loading import config_digest, load_config, parse_config
from shipline.config.schema import ModelConfig

__all__ = ["ModelConfig", "config_digest", "load_config", "parse_config"]
