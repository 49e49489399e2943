-- Delivery leases: the server instance delivering an outbound message owns it until lease_until
-- (microseconds on the database's clock, so that instances on hosts with skewed clocks agree).
-- The owner renews the lease while it retries and clears it with the final status; a message
-- whose lease expired (its owner died) is claimed by another instance. NULL: nobody owns it.
ALTER TABLE messages ADD COLUMN lease_owner TEXT;
ALTER TABLE messages ADD COLUMN lease_until BIGINT;
