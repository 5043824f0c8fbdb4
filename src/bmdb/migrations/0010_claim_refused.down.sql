DROP FUNCTION bmdb_claim_refused(uuid, process, timestamptz);
