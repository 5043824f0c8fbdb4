-- The `sim` provider of `bmaas dev`: simulated machines get their own
-- provider value so they never mix with machines of a real device list.
ALTER TYPE provider ADD VALUE IF NOT EXISTS 'Sim';
