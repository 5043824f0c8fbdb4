-- Removes what 0002_machine_ssh_host_key.up.sql created.
DROP TABLE machine_ssh_host_key;
