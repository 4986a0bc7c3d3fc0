"""Identity of the CameraChannel custom resource."""

GROUP = "footfall.io"
VERSION = "v1alpha1"
PLURAL = "camerachannels"
KIND = "CameraChannel"
SHORT_NAME = "camch"
