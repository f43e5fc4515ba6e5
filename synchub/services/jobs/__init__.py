"""Jobs: define, edit, enable, remove, and ask when they fire next.

- `fields`: JobFields, what a user gives, and how an add or an edit makes it whole;
- `rules`: every field checked (all problems at once) and written into the job's row;
- `job_views`: what the service answers, frozen: JobView and its parts, Edited,
  Removed, LastRun, a schedule tried out; `as_dict` where a JSON document is wanted;
- `views`: a job's view made from its row, and what an edit changed;
- `queries`: reading jobs (JobQueries); `service`: changing them (JobService).
"""
