DROP INDEX IF EXISTS machines_created_at;
DROP INDEX IF EXISTS machine_agent_heartbeat_at;
