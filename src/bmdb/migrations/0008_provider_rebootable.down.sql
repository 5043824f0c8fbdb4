ALTER TABLE machine_provided DROP COLUMN provider_rebootable;
