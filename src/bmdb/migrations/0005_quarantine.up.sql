-- Recovery you can trust (docs/architecture.md#recovery-guards): quarantine,
-- attempt counters, the reboot ledger and the storm guard's shared row.

-- The machine is out of every shepherd workflow until someone releases it.
-- `quarantined_by` is 'shepherd' or an operator's name.
CREATE TABLE machine_quarantined (
  machine_id uuid PRIMARY KEY REFERENCES machines (machine_id) ON DELETE CASCADE,
  quarantine_reason text NOT NULL,
  quarantined_since timestamptz NOT NULL DEFAULT now(),
  quarantined_by text NOT NULL
);

-- Attempts of a process on a machine that did not lead to success:
-- ShepherdRecovery counts reboots since the last heartbeat, ShepherdAgentStart
-- failed agent starts in a row. `last_causes` keeps the newest few causes.
CREATE TABLE machine_attempts (
  machine_id uuid NOT NULL REFERENCES machines (machine_id) ON DELETE CASCADE,
  process process NOT NULL,
  attempts integer NOT NULL,
  last_attempt_at timestamptz NOT NULL,
  last_causes text NOT NULL,
  PRIMARY KEY (machine_id, process)
);

-- Audit trail of quarantining and releasing. No foreign key: it outlives the machine.
CREATE TABLE quarantine_history (
  machine_id uuid NOT NULL,
  quarantine_event text NOT NULL CHECK (quarantine_event IN ('Quarantined', 'Released')),
  quarantine_reason text NOT NULL,
  quarantine_by text NOT NULL,
  timestamp timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_history_machine ON quarantine_history (machine_id, timestamp);

-- One row per reboot the recoverer decided on, written in the claiming
-- transaction: the fleet-wide reboot cap counts these.
CREATE TABLE recovery_reboots (
  machine_id uuid NOT NULL,
  rebooted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recovery_reboots_at ON recovery_reboots (rebooted_at);

-- The storm guard's single row. Every claim that would reboot updates it
-- first, which serialises reboot decisions fleet-wide (a row lock, no
-- advisory lock); the storm columns are what the last check found.
CREATE TABLE recovery_storm_guard (
  guard_id integer PRIMARY KEY CHECK (guard_id = 1),
  storm_reason text NULL,
  storm_since timestamptz NULL,
  storm_last_seen_at timestamptz NULL,
  storm_cleared_at timestamptz NULL,
  guard_checked_at timestamptz NULL
);
INSERT INTO recovery_storm_guard (guard_id) VALUES (1);
