-- The work schedule (docs/architecture.md#work-schedule): hints that tell the
-- candidate queries where to look, so a poll reads an index range instead of
-- the fleet. A row says "from due_basis on (plus the loop's threshold) this
-- machine may be a candidate for this process". Hints are kept by the writes
-- that change the tags they follow and repaired by a periodic sweep; the
-- candidate queries still evaluate the full predicate on every row.
--   ShepherdAgentStart: a provided machine with no AgentStarted tag; the basis
--     is the end of its agent start backoff, else its creation time.
--   ShepherdRecovery: a provided machine whose agent started and never
--     heartbeated; the basis is the agent start (compared with the
--     first-heartbeat threshold). Silence after a heartbeat is found through
--     the heartbeat time index (migration 3), not here.
CREATE TABLE machine_work_due (
    machine_id uuid NOT NULL REFERENCES machines (machine_id) ON DELETE CASCADE,
    process process NOT NULL,
    due_basis timestamptz NOT NULL,
    PRIMARY KEY (machine_id, process)
);
CREATE INDEX machine_work_due_process_basis ON machine_work_due (process, due_basis, machine_id);

INSERT INTO machine_work_due (machine_id, process, due_basis)
SELECT mp.machine_id, 'ShepherdAgentStart',
    COALESCE((SELECT b.until FROM work_backoff b WHERE b.machine_id = mp.machine_id AND b.process = 'ShepherdAgentStart'), m.machine_created_at)
FROM machine_provided mp JOIN machines m ON m.machine_id = mp.machine_id
WHERE NOT EXISTS (SELECT 1 FROM machine_agent_started s WHERE s.machine_id = mp.machine_id);

INSERT INTO machine_work_due (machine_id, process, due_basis)
SELECT mp.machine_id, 'ShepherdRecovery', s.agent_started_at
FROM machine_provided mp JOIN machine_agent_started s ON s.machine_id = mp.machine_id
WHERE NOT EXISTS (SELECT 1 FROM machine_agent_heartbeat h WHERE h.machine_id = mp.machine_id);
