"""the claim of a run as one PostgreSQL function

A worker's claim of a run was four round trips on PostgreSQL (BEGIN, lock and read
the job, the conditional UPDATE, COMMIT). `synchub_claim_run` does the same steps
server-side, so that a worker claims a run in one statement, in autocommit. It runs
each of its statements with a fresh snapshot (a VOLATILE PL/pgSQL function under
READ COMMITTED), so the UPDATE after the lock sees every claim committed while it
waited, as the separate statements did. SQLite keeps the statements: nothing here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The outcome is 'claimed', 'gone', 'busy', 'skipped' (as `runs.Claim`), or 'limited':
# the job uses a remote with a concurrency limit, nothing was done, and the caller
# takes the full path (`runs.claim_run` in a transaction). The other columns are set
# only with 'claimed'.
CREATE = """
CREATE FUNCTION synchub_claim_run(p_run_id bigint, p_worker text, p_now timestamptz)
RETURNS TABLE (
    c_outcome text,
    c_attempt integer,
    c_only_path text,
    c_first_run boolean,
    c_job_id bigint,
    c_job_name text,
    c_kind text,
    c_params json,
    c_timeout_s integer,
    c_watch boolean
)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    j record;
BEGIN
    -- 1. Lock the run's job (and read it). Every claim of the job's runs takes this
    --    lock first, so no other run of the job can start until this transaction ends.
    SELECT jobs.id, jobs.name, jobs.kind, jobs.params, jobs.timeout_s, jobs.overlap,
           jobs.watch,
           EXISTS (
               SELECT 1 FROM job_remotes
               JOIN remotes ON remotes.id = job_remotes.remote_id
               WHERE job_remotes.job_id = jobs.id AND remotes.max_concurrency IS NOT NULL
           ) AS limited
      INTO j
      FROM jobs
     WHERE jobs.id = (SELECT runs.job_id FROM runs WHERE runs.id = p_run_id)
       FOR UPDATE OF jobs;
    IF NOT FOUND THEN
        -- No such run, a kept run of a deleted job, or its job deleted meanwhile.
        c_outcome := 'gone';
        RETURN NEXT;
        RETURN;
    END IF;
    IF j.limited THEN
        c_outcome := 'limited';
        RETURN NEXT;
        RETURN;
    END IF;
    -- 2. Queued -> running; for a job that allows no overlap, only when no run of the
    --    job is running. A statement of its own, after the lock: its snapshot is taken
    --    now, so it sees every claim committed while we waited for the lock.
    UPDATE runs
       SET state = 'running', worker = p_worker, started_at = p_now, heartbeat_at = p_now
     WHERE runs.id = p_run_id
       AND runs.state = 'queued'
       AND (j.overlap = 'allow' OR NOT EXISTS (
               SELECT 1 FROM runs other
                WHERE other.job_id = j.id AND other.state = 'running'))
    RETURNING runs.attempt, runs.only_path INTO c_attempt, c_only_path;
    IF FOUND THEN
        c_outcome := 'claimed';
        c_first_run := NOT EXISTS (
            SELECT 1 FROM runs done WHERE done.job_id = j.id AND done.state = 'succeeded');
        c_job_id := j.id;
        c_job_name := j.name;
        c_kind := j.kind;
        c_params := j.params;
        c_timeout_s := j.timeout_s;
        c_watch := j.watch;
        RETURN NEXT;
        RETURN;
    END IF;
    -- 3. Nothing moved: the run is no longer queued, or (under the lock) its job runs.
    IF NOT EXISTS (SELECT 1 FROM runs WHERE runs.id = p_run_id AND runs.state = 'queued') THEN
        c_outcome := 'gone';
    ELSIF j.overlap = 'skip' THEN
        UPDATE runs SET state = 'skipped', reason = 'overlap', finished_at = p_now
         WHERE runs.id = p_run_id AND runs.state = 'queued';
        c_outcome := CASE WHEN FOUND THEN 'skipped' ELSE 'gone' END;
    ELSE
        UPDATE runs SET state = 'pending', queued_at = NULL
         WHERE runs.id = p_run_id AND runs.state = 'queued';
        c_outcome := CASE WHEN FOUND THEN 'busy' ELSE 'gone' END;
    END IF;
    RETURN NEXT;
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS synchub_claim_run(bigint, text, timestamptz)")
