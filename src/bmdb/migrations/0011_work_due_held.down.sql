DROP INDEX machine_work_due_process_basis;
CREATE INDEX machine_work_due_process_basis ON machine_work_due (process, due_basis, machine_id);
ALTER TABLE machine_work_due DROP COLUMN held;
