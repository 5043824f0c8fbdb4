-- PostgreSQL cannot drop an enum value, so the type is rebuilt without it.
-- While simulated machines exist the cast fails and the whole step rolls
-- back: delete them first (nothing is removed behind the operator's back).
ALTER TYPE provider RENAME TO provider_with_sim;
CREATE TYPE provider AS ENUM ('Equinix', 'Lumen', 'None');
ALTER TABLE machine_provided ALTER COLUMN provider TYPE provider USING provider::text::provider;
DROP TYPE provider_with_sim;
