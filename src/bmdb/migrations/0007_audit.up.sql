-- The operators' audit trail (README.md#operating-a-fleet): one row
-- per action an operator (or a script acting for one) carried out through the
-- action layer in src/actions. No foreign key on machine_id: the trail
-- outlives the machine, a decommission included.
CREATE TABLE audit_log (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    machine_id uuid NULL,
    provider_id varchar(128) NULL,
    arguments jsonb NOT NULL DEFAULT '{}'::jsonb,
    reason text NULL,
    result text NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_machine ON audit_log (machine_id, at);
