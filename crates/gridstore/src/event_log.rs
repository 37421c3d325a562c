//! event_log primitive: trait and value types (to be written).
