DROP TABLE recovery_storm_guard;
DROP TABLE recovery_reboots;
DROP TABLE quarantine_history;
DROP TABLE machine_attempts;
DROP TABLE machine_quarantined;
