"""Store and camera configuration: pydantic models at the edge, credentials from the environment."""

from footfall_contract.config.cameras import (
    CameraCredentials,
    CameraSource,
    ChannelConfig,
    ConfigError,
    CredentialsRef,
    RtspUrl,
    StoreConfig,
    load_store_config,
)
from footfall_contract.config.masking import mask_credentials

__all__ = [
    "CameraCredentials",
    "CameraSource",
    "ChannelConfig",
    "ConfigError",
    "CredentialsRef",
    "RtspUrl",
    "StoreConfig",
    "load_store_config",
    "mask_credentials",
]
