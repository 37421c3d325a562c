//! Where the bytes of a created position go, by construction: the size of each row the store
//! keeps for it, the heap blocks it owns alone (glibc: 8 bytes of header, 16-byte steps, 32
//! at least) and its share of the index maps (a `HashMap` bucket plus its control byte, at the
//! load of 100,000 entries in 131,072 buckets). Values shared by many positions (institution,
//! asset, holder reference, request method and path) cost nothing per position. The figures
//! are in `docs/BENCHMARKS.md`; the resident bytes measured by `escrowgrid-loadgen
//! --scale-positions` add the allocator's slack.

use std::mem::size_of;
use std::sync::Arc;

use super::audit_row::AuditRow;
use super::compact::LedgerRow;
use super::events::Rendered;
use super::packed::Packed;
use super::position_row::PositionRow;

/// The heap block glibc hands out for `bytes`.
fn block(bytes: usize) -> usize {
    (bytes + 8).next_multiple_of(16).max(32)
}

/// The block of an `Arc<T>` (two counters, then `T`).
fn arc_block<T>() -> usize {
    block(16 + size_of::<T>())
}

/// A `HashMap` entry of `T` at 100,000 entries in 131,072 buckets.
fn map_entry<T>() -> usize {
    (size_of::<T>() + 1) * 131_072 / 100_000
}

/// The parts of one created position, in bytes, by construction.
fn parts() -> Vec<(&'static str, usize)> {
    // The memory event log's own row per event (gridstore's `Stored`: position 16, stream
    // and type 16 each, correlation id 16, payload handle 24, recorded_at 12).
    let stored_event = 104;
    vec![
        ("position row (Arc block)", arc_block::<PositionRow>()),
        (
            "position table: slot, key map entry, list order and 3 lists",
            size_of::<Option<Arc<PositionRow>>>() + map_entry::<(Packed, u32)>() + 4 + 3 * 4,
        ),
        ("ledger row (Arc block)", arc_block::<LedgerRow>()),
        (
            "ledger: its slot, the position's chain head, its institution's index entry",
            size_of::<Arc<LedgerRow>>() + map_entry::<(Packed, u32)>() + size_of::<u32>(),
        ),
        (
            "audit row (inline) and its institution index",
            size_of::<AuditRow>() + size_of::<usize>(),
        ),
        ("two outbox events in the memory log", 2 * stored_event),
        (
            "their rendered payload handles (two Arc blocks)",
            2 * arc_block::<Rendered>(),
        ),
        (
            "their shared correlation id (an Arc<str> of 40 bytes)",
            block(16 + 40),
        ),
    ]
}

#[test]
fn a_created_position_keeps_at_most_1200_bytes_of_rows_by_construction() {
    let parts = parts();
    let total: usize = parts.iter().map(|(_, bytes)| bytes).sum();
    for (part, bytes) in &parts {
        eprintln!("{bytes:>5}  {part}");
    }
    eprintln!("{total:>5}  in all");
    assert!(
        size_of::<PositionRow>() <= 160,
        "{}",
        size_of::<PositionRow>()
    );
    assert!(size_of::<LedgerRow>() <= 200, "{}", size_of::<LedgerRow>());
    assert!(size_of::<AuditRow>() <= 200, "{}", size_of::<AuditRow>());
    assert!(total <= 1200, "{total}");
}
