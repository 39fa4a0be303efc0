"""The image service (Glance) as the volume service layer and managers use it."""
