"""rclone: the engine of `rclone` jobs, and what else synchub asks of rclone.

- `engine`: the engine, one rclone process per run (`argv`, `run`, `validate`);
- `params`, `flags`, `safety_settings`: what a job may ask for (its places and
  filters, the allowed flags, the delete guard, the marker, kept versions);
- `safety`, `preview`: guarded runs (the preview, the delete guard, the marker);
- `log`, `exits`: reading a run's JSON log and its exit code;
- `environment`, `backends`, `secrets`, `conf`: remotes as rclone's environment, the
  backends' options and which are secrets, rclone.conf files;
- `bisync`, `restore`, `browse`, `probe`: bisync's own runs, restoring kept
  versions, listing folders, testing and measuring a remote.
"""
