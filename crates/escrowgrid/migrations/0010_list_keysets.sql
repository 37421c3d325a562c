-- Indexes for keyset pages of the lists answered as plain arrays (`limit`/`cursor` with a
-- `Link: rel="next"` header, issue 11 goal 4): each page is `where <filter> and <after the
-- key> order by <list order> limit n`, read from an index that leads with the filter and ends
-- with the order, so a deep page costs what the first costs.
--
-- Already served: institutions (idx_institutions_created; a tenant's list is its own row),
-- API keys per institution (idx_api_keys_institution), policies per institution (the primary
-- key's institution_id prefix: at most one policy per region), ledger events per position
-- (idx_ledger_events_position) and per institution (the unique (institution_id, seq) key),
-- webhooks per institution (idx_webhooks_institution).
-- Added here: root's whole ledger in write order (0008 dropped the unique (seq) key, and
-- nothing read the whole ledger by an index then) and root's webhooks across institutions
-- (idx_webhooks_enabled covers enabled endpoints only).
-- Never edit this file once it has landed: add a new numbered migration instead.

create index idx_ledger_events_seq on ledger_events (seq);
create index idx_webhooks_created on webhooks (created_at, id);
