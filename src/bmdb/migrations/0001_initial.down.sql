-- Removes everything 0001_initial.up.sql created, dependents first.
DROP TABLE machine_os_installation_report;
DROP TABLE machine_os_installation_request;
DROP TABLE machine_hardware_report;
DROP TABLE machine_agent_heartbeat;
DROP TABLE machine_agent_started;
DROP TABLE machine_provided;
DROP TABLE work_history;
DROP TABLE work_backoff;
DROP TABLE work;
DROP TABLE sessions;
DROP TABLE machines;
DROP TYPE os_installation_result;
DROP TYPE work_history_event;
DROP TYPE provider_status;
DROP TYPE provider;
DROP TYPE process;
