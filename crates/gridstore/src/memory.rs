//! In-memory backends, one file per primitive.
