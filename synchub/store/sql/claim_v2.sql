-- The claim of a run on PostgreSQL, version 2: the only text of this function.
--
-- Migration 0022 creates it from this file, and the tests read it. Never edited
-- once released (claim_v1.sql says why): a change is claim_v3.sql, a new function
-- and a new migration. synchub_claim_v1 stays beside it for the workers of the
-- previous version during a rolling upgrade.
--
-- Version 1's steps and outcomes, and with 'claimed' also what the runner read
-- of the job in a query of its own after the claim: its hooks, whether a job
-- runs after it, its run windows and their zone, and the run's trigger. A run
-- starts in one round trip fewer.
--
-- p_unended_job: the job of the caller's previous run, ended but its end not yet
-- committed (a Celery worker writes it while the next message comes), or NULL.
-- That end may change this claim's outcome only for a run of the same job: its
-- overlap policy, and whether the job ever succeeded. Then the outcome is 'wait'
-- and nothing is done: the caller waits for its end and claims again.
--
-- What it does is `synchub/store/claim.py`'s statements, in one round trip:
-- 1. lock the run's job row (and read it); every claim of the job's runs takes
--    this lock first;
-- 2. one conditional UPDATE, queued -> running (for a job that allows no
--    overlap, only while no run of the job runs), a statement of its own after
--    the lock: a VOLATILE function under READ COMMITTED takes a fresh snapshot
--    per statement, so it sees every claim committed while it waited;
-- 3. only when it moved nothing, find out why (gone, or the job is running).
--
-- The outcome is 'claimed', 'gone', 'busy', 'skipped' (as `claim.Claim`), 'wait'
-- (above), or 'limited': the job uses a remote with a concurrency limit, nothing
-- was done, and the caller claims with the statements in a transaction. The
-- other columns are set only with 'claimed'.
CREATE FUNCTION synchub_claim_v2(
    p_run_id bigint, p_worker text, p_now timestamptz, p_unended_job bigint
)
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
    c_watch boolean,
    c_dry_run boolean,
    c_allow_deletes boolean,
    c_resync boolean,
    c_hooks json,
    c_followed boolean,
    c_windows json,
    c_windows_tz text,
    c_trigger text
)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    j record;
BEGIN
    SELECT jobs.id, jobs.name, jobs.kind, jobs.params, jobs.timeout_s, jobs.overlap,
           jobs.watch, jobs.hooks, jobs.windows, jobs.windows_tz,
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
    IF j.id = p_unended_job AND (j.overlap <> 'allow' OR NOT EXISTS (
            SELECT 1 FROM runs done
             WHERE done.job_id = j.id AND done.state = 'succeeded' AND NOT done.dry_run)) THEN
        c_outcome := 'wait';
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE runs
       SET state = 'running', worker = p_worker, started_at = p_now, heartbeat_at = p_now
     WHERE runs.id = p_run_id
       AND runs.state = 'queued'
       AND (j.overlap = 'allow' OR NOT EXISTS (
               SELECT 1 FROM runs other
                WHERE other.job_id = j.id AND other.state = 'running'))
    RETURNING runs.attempt, runs.only_path, runs.dry_run, runs.allow_deletes, runs.resync,
              runs.trigger
         INTO c_attempt, c_only_path, c_dry_run, c_allow_deletes, c_resync, c_trigger;
    IF FOUND THEN
        c_outcome := 'claimed';
        -- A dry run changes nothing: it is no success that spares a bisync --resync.
        c_first_run := NOT EXISTS (
            SELECT 1 FROM runs done
             WHERE done.job_id = j.id AND done.state = 'succeeded' AND NOT done.dry_run);
        c_job_id := j.id;
        c_job_name := j.name;
        c_kind := j.kind;
        c_params := j.params;
        c_timeout_s := j.timeout_s;
        c_watch := j.watch;
        c_hooks := j.hooks;
        c_followed := EXISTS (SELECT 1 FROM job_chains WHERE job_chains.upstream_id = j.id);
        c_windows := j.windows;
        c_windows_tz := j.windows_tz;
        RETURN NEXT;
        RETURN;
    END IF;
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
$$;
