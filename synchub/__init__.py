"""synchub: a self-hosted scheduler for rclone sync and backup jobs."""

__version__ = "0.1.0"
