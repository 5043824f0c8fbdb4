-- Held hints (docs/architecture.md#work-schedule): a hint whose (machine,
-- process) work is held by a session is marked, and the range index the
-- candidate queries read leaves marked hints out. Claims set the mark in
-- their statement and every end of work (finish, fail, cancel, collection)
-- clears it; the sweep repairs a mark that went wrong. So a poll no longer
-- walks past the machines other workers are busy with, and a claim that lost
-- the race for a hint sees the mark when it locks the hint row (instead of
-- claiming from a stale view and being refused).
ALTER TABLE machine_work_due ADD COLUMN held boolean NOT NULL DEFAULT false;

UPDATE machine_work_due d SET held = true
WHERE EXISTS (SELECT 1 FROM work w WHERE w.machine_id = d.machine_id AND w.process = d.process);

DROP INDEX machine_work_due_process_basis;
CREATE INDEX machine_work_due_process_basis ON machine_work_due (process, due_basis, machine_id) WHERE NOT held;
