"""Footfall operator: CameraChannel custom resources to one worker Deployment each."""
