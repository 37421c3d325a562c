//! PostgreSQL plumbing shared by every PostgreSQL backend (config, pool, migrations, SQLSTATE
//! mapping, retrying transactions) and the PostgreSQL backends of the primitives.
