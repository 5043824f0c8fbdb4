-- The stale-view check of a claim made in one statement (Session.claim): is
-- the work on (machine, process) held, or did it end after `since` (the
-- claiming transaction's start)? A VOLATILE function, so at READ COMMITTED
-- its query reads a snapshot of its own, taken when it is called, after the
-- claiming statement locked the machine: it sees what committed after that
-- statement's own snapshot, which a plain subquery would not. PL/pgSQL, so it
-- is never inlined into the calling statement (which would read the
-- statement's snapshot again).
CREATE FUNCTION bmdb_claim_refused(claim_machine uuid, claim_process process, since timestamptz) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM work w WHERE w.machine_id = claim_machine AND w.process = claim_process)
    OR EXISTS (SELECT 1 FROM work_history h WHERE h.machine_id = claim_machine AND h.process = claim_process
      AND h.event <> 'Started' AND h.timestamp > since);
END
$$;
