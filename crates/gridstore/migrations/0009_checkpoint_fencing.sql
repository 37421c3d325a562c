-- Fenced checkpoint saves (CheckpointStore::save_fenced): the highest fencing token a fenced
-- save of the workflow carried. A fenced save increments the counter row only when its token
-- is at least this one (the row lock serializes the check with the save), so a writer whose
-- lease was taken over can never save after the new holder. NULL: no fenced save yet.
alter table gs_checkpoint_heads add column fencing_token bigint check (fencing_token >= 0);
