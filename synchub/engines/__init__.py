"""What a run does: rclone, command, and plug-in kinds."""
