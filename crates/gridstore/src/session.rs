//! session primitive: trait and value types (to be written).
