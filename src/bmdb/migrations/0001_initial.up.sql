-- The Bare Metal Database, first version (docs/architecture.md#data-model).
-- Valid on PostgreSQL 14+ and CockroachDB: enums, gen_random_uuid(), no
-- PostgreSQL-only features.

CREATE TYPE process AS ENUM (
    'UnitTest1',
    'UnitTest2',
    'ShepherdAccess',
    'ShepherdAgentStart',
    'ShepherdRecovery'
);

CREATE TYPE provider AS ENUM ('Equinix', 'Lumen', 'None');

CREATE TYPE provider_status AS ENUM (
    'Missing',
    'Provisioning',
    'ProvisioningFailedPermanent',
    'Running',
    'Stopped',
    'Unknown'
);

CREATE TYPE work_history_event AS ENUM ('Started', 'Finished', 'Failed', 'Canceled');

CREATE TYPE os_installation_result AS ENUM ('Success', 'Error');

-- A machine exists. Everything else about it is a tag.
CREATE TABLE machines (
    machine_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    machine_created_at timestamptz NOT NULL DEFAULT now()
);

-- A live component instance. The owner pushes the deadline forward; a row
-- whose deadline has passed is dead and is collected after a grace period.
CREATE TABLE sessions (
    session_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_component_name text NOT NULL,
    session_runtime_info text NOT NULL,
    session_created_at timestamptz NOT NULL DEFAULT now(),
    session_interval_seconds integer NOT NULL,
    session_deadline timestamptz NOT NULL
);

-- A lock: this session is doing this process on this machine. Goes away with
-- its session.
CREATE TABLE work (
    machine_id uuid NOT NULL REFERENCES machines (machine_id) ON DELETE RESTRICT,
    session_id uuid NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    process process NOT NULL,
    PRIMARY KEY (machine_id, process)
);
CREATE INDEX work_session_id ON work (session_id);

-- Do not retry this process on this machine before `until`.
CREATE TABLE work_backoff (
    machine_id uuid NOT NULL REFERENCES machines (machine_id) ON DELETE CASCADE,
    process process NOT NULL,
    until timestamptz NOT NULL,
    cause text NOT NULL,
    last_interval_seconds bigint NULL,
    PRIMARY KEY (machine_id, process)
);
CREATE INDEX work_backoff_process_machine ON work_backoff (process, machine_id) INCLUDE (until);

-- The audit trail. No foreign key: history outlives machines.
CREATE TABLE work_history (
    machine_id uuid NOT NULL,
    process process NOT NULL,
    event work_history_event NOT NULL,
    timestamp timestamptz NOT NULL DEFAULT now(),
    failed_cause text NULL
);
CREATE INDEX work_history_machine ON work_history (machine_id, timestamp);
CREATE INDEX work_history_timestamp ON work_history (timestamp);

CREATE TABLE machine_provided (
    machine_id uuid PRIMARY KEY REFERENCES machines (machine_id) ON DELETE CASCADE,
    provider provider NOT NULL,
    provider_id varchar(128) NOT NULL,
    provider_reservation_id text NULL,
    provider_ip_address text NULL,
    provider_location text NULL,
    provider_status provider_status NULL,
    UNIQUE (provider, provider_id)
);
-- Candidate queries walk one provider's machines in machine id order from a
-- random start and stop at the first match: this index makes that a range scan.
CREATE INDEX machine_provided_provider_machine ON machine_provided (provider, machine_id);

CREATE TABLE machine_agent_started (
    machine_id uuid PRIMARY KEY REFERENCES machines (machine_id) ON DELETE CASCADE,
    agent_started_at timestamptz NOT NULL,
    agent_public_key bytea NOT NULL
);
CREATE INDEX machine_agent_started_public_key ON machine_agent_started (agent_public_key);

CREATE TABLE machine_agent_heartbeat (
    machine_id uuid PRIMARY KEY REFERENCES machines (machine_id) ON DELETE CASCADE,
    agent_heartbeat_at timestamptz NOT NULL
);

CREATE TABLE machine_hardware_report (
    machine_id uuid PRIMARY KEY REFERENCES machines (machine_id) ON DELETE CASCADE,
    hardware_report_raw bytea NOT NULL
);

CREATE TABLE machine_os_installation_request (
    machine_id uuid PRIMARY KEY REFERENCES machines (machine_id) ON DELETE CASCADE,
    generation integer NOT NULL,
    os_installation_request_raw bytea NOT NULL
);

CREATE TABLE machine_os_installation_report (
    machine_id uuid PRIMARY KEY REFERENCES machines (machine_id) ON DELETE CASCADE,
    generation integer NOT NULL,
    os_installation_result os_installation_result NOT NULL,
    os_installation_report_raw bytea NOT NULL
);
