-- The SSH host key the shepherd first saw on a machine (trust on first use).
-- A later connection that shows a different key is refused until an operator
-- deletes this row.
CREATE TABLE machine_ssh_host_key (
  machine_id uuid PRIMARY KEY REFERENCES machines (machine_id) ON DELETE CASCADE,
  -- SSH wire-format public key blob, as a known_hosts line base64-encodes it.
  ssh_host_key bytea NOT NULL,
  -- "SHA256:..." as ssh-keygen -l prints it, kept for operators and the web UI.
  ssh_host_key_fingerprint text NOT NULL,
  ssh_host_key_first_seen_at timestamptz NOT NULL DEFAULT now()
);
