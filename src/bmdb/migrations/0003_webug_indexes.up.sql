-- Indexes for the operator UI (webug): the fleet list sorted by heartbeat
-- time or by creation time pages by keyset on (key, machine_id); without
-- these a sorted first page reads every row at 100,000 machines.
CREATE INDEX IF NOT EXISTS machine_agent_heartbeat_at ON machine_agent_heartbeat (agent_heartbeat_at, machine_id);
CREATE INDEX IF NOT EXISTS machines_created_at ON machines (machine_created_at, machine_id);
