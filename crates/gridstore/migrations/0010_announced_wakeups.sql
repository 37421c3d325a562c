-- Event-log wake-ups leave the appending transaction.
--
-- 0004's statement trigger called pg_notify in every transaction that appended events. A
-- transaction that has notified takes a database-wide lock just before its commit and holds it
-- until the commit is done (flushed, on a durable server), so such transactions commit one at
-- a time instead of sharing WAL flushes. Measured with pgbench on a durable server, 32
-- clients: an escrow write with its outbox append ran at 41% of the same write without the
-- outbox with the trigger, and at 77% without it.
--
-- Appenders now announce after they commit (PgListener::announce: one `notify gs_events` per
-- burst, sent by the listener's own connection outside any writer's transaction). The channel
-- and what a notification means are unchanged; subscribers still poll, so an append whose
-- announcement never comes (an older binary during a rolling upgrade, a raw SQL insert) is
-- seen at the next poll.
drop trigger gs_events_notify on gs_events;
drop function gs_events_notify();
