"""Process assembly: what each long-running synchub process is made of. `runners`
makes a process's runner, `worker` is the Celery app and its task, `node` puts a
process's runner, executor, scheduler and background passes together, and
`celery_worker` is the process `synchub worker` becomes."""
