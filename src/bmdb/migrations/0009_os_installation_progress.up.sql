-- How far the agent got with an installation (docs/architecture.md#image-installation):
-- the latest OSInstallationProgress the agent sent for the request of that
-- generation, and when the server stored it. A row of another generation than
-- the request's is stale and means nothing.
CREATE TABLE machine_os_installation_progress (
    machine_id uuid PRIMARY KEY REFERENCES machines (machine_id) ON DELETE CASCADE,
    generation integer NOT NULL,
    os_installation_progress_raw bytea NOT NULL,
    progress_reported_at timestamptz NOT NULL DEFAULT now()
);
