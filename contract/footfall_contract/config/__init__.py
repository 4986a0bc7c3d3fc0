"""Store and camera configuration: pydantic models at the edge, credentials from the environment or a mounted Secret."""

from footfall_contract.config.cameras import CameraSource, ChannelConfig, RtspUrl, StoreConfig, load_store_config
from footfall_contract.config.credentials import CameraCredentials, ConfigError, CredentialsRef
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
