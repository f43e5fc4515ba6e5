"""Jobs: define, edit, enable, remove, and ask when they fire next.

- `fields`: JobFields, what a user gives, and how an add or an edit makes it whole;
- `rules`: every field checked (all problems at once) and written into the job's row;
- `views`: a job as the services show it, and what an edit changed;
- `queries`: reading jobs (JobQueries); `service`: changing them (JobService).
"""
