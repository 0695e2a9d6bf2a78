-- 008_api_key_rate_limits: each API key's rate limit (CONTRACT.md, "Rate
-- limits"; docs/DESIGN.md, "Rate limits"): requests per minute, the
-- capacity of the key's token bucket, which refills continuously at
-- rate_limit/60 per second. Existing keys get the contract's default, 1200.
--
-- Locks: api_keys is small (one row per key); the column has a constant
-- default, so adding it is a catalog change, and the check reads the
-- table once under the AccessExclusiveLock migrate holds to its commit.

alter table api_keys
    add column rate_limit integer not null default 1200
        constraint api_keys_rate_limit_check check (rate_limit >= 0);

comment on column api_keys.rate_limit is
    'Requests per minute this key may make: its token bucket holds rate_limit requests and refills at rate_limit/60 per second (incidentd keeps the buckets, per host). 0 = unlimited. Set by incidentctl api-key create --rate-limit (default 1200).';

-- api.authenticate now returns the limit too: a new row type, which
-- CREATE OR REPLACE cannot give an existing function. The old one goes;
-- sql/code/50_api_keys.sql defines the new one right after.
drop function if exists api.authenticate(bytea);
