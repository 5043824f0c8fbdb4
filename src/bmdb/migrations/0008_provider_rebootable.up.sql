-- Whether the provider can reboot the machine (docs/architecture.md#workflow-predicates):
-- a device-list entry without a BMC cannot, so it is never a recovery
-- candidate. Rows enrolled before this column existed keep their old
-- behaviour (every machine was a recovery candidate), hence the default.
ALTER TABLE machine_provided ADD COLUMN provider_rebootable boolean NOT NULL DEFAULT true;
