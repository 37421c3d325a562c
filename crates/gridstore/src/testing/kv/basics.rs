//! Plain set, get, has, delete (SmallTalk 30–36) and input validation.

use std::time::Duration;

use serde_json::{Value, json};

use crate::Error;
use crate::kv::{KvStats, KvStore, MAX_KEY_LEN};

/// SmallTalk 30: strings, numbers and booleans round-trip; a stored `null` reads back as
/// `Some(Null)`, unlike a missing key.
pub async fn primitives_round_trip_and_a_stored_null_is_not_a_missing_key<S: KvStore>(store: &S) {
    let big: Value = serde_json::from_str("123456789012345678901234567890.5").expect("number");
    let values = [
        ("string", json!("hello ✓")),
        ("number", json!(42)),
        ("big", big),
        ("bool", json!(true)),
        ("null", Value::Null),
    ];
    for (key, value) in &values {
        store.set(key, value.clone(), None).await.expect("set");
    }

    for (key, value) in &values {
        assert_eq!(
            store.get(key).await.expect("get").as_ref(),
            Some(value),
            "{key}"
        );
    }
    assert!(store.has("null").await.expect("has"));
}

/// SmallTalk 31: a nested object with an array and an ISO date string round-trips.
pub async fn a_nested_object_round_trips<S: KvStore>(store: &S) {
    let value = json!({
        "user": {"name": "Ada", "roles": ["admin", "ops"]},
        "created": "2026-11-21T10:11:12.123Z",
        "limits": [{"window": 60, "max": 100}, null],
    });

    store.set("nested", value.clone(), None).await.expect("set");

    assert_eq!(store.get("nested").await.expect("get"), Some(value));
}

/// `get_many` answers every key in the order asked, `None` for a missing one, a stored
/// `null` as `Some(Null)`, and a repeated key twice; no keys, no values.
pub async fn get_many_reads_every_key_in_order<S: KvStore>(store: &S) {
    store.set("m1", json!({"a": 1}), None).await.expect("set");
    store.set("m2", Value::Null, None).await.expect("set");
    store.set("m3", json!("three"), None).await.expect("set");
    let keys: Vec<String> = ["m3", "missing", "m1", "m2", "m3"]
        .iter()
        .map(|key| (*key).to_owned())
        .collect();

    let values = store.get_many(&keys).await.expect("get_many");

    assert_eq!(
        values,
        vec![
            Some(json!("three")),
            None,
            Some(json!({"a": 1})),
            Some(Value::Null),
            Some(json!("three")),
        ]
    );
    assert!(store.get_many(&[]).await.expect("no keys").is_empty());
}

/// SmallTalk 32: a key never set reads as `None`.
pub async fn a_missing_key_reads_as_none<S: KvStore>(store: &S) {
    assert_eq!(store.get("missing").await.expect("get"), None);
}

/// SmallTalk 33 and 34: deleting returns true for a stored key (then it is gone), false for
/// a missing one.
pub async fn deleting_returns_whether_the_key_existed<S: KvStore>(store: &S) {
    store.set("doomed", json!(1), None).await.expect("set");

    assert!(store.delete("doomed").await.expect("delete"));
    assert_eq!(store.get("doomed").await.expect("get"), None);
    assert!(!store.delete("doomed").await.expect("delete again"));
    assert!(!store.delete("never-set").await.expect("delete missing"));
}

/// SmallTalk 35 and 36: `has` is true for a stored key, false for a missing one.
pub async fn has_tells_whether_a_key_exists<S: KvStore>(store: &S) {
    store.set("present", json!("x"), None).await.expect("set");

    assert!(store.has("present").await.expect("has"));
    assert!(!store.has("absent").await.expect("has"));
}

/// `set` overwrites the stored value; stats count live keys.
pub async fn setting_again_replaces_the_value<S: KvStore>(store: &S) {
    store.set("k", json!(1), None).await.expect("set");
    store
        .set("k", json!({"v": 2}), Some(Duration::from_secs(3600)))
        .await
        .expect("set");

    assert_eq!(store.get("k").await.expect("get"), Some(json!({"v": 2})));
    assert_eq!(
        store.stats().await.expect("stats"),
        KvStats {
            keys: 1,
            expired_pending: 0
        }
    );
}

/// Empty and overlong keys, TTLs under a millisecond and values with a NUL character are
/// rejected by every backend without writing.
pub async fn an_invalid_key_ttl_or_value_is_invalid_input<S: KvStore>(store: &S) {
    let empty = store.set("", json!(1), None).await;
    let long = store
        .set(&"k".repeat(MAX_KEY_LEN + 1), json!(1), None)
        .await;
    let zero_ttl = store.set("k", json!(1), Some(Duration::ZERO)).await;
    let tiny_ttl = store
        .set_if_absent("k", json!(1), Some(Duration::from_micros(10)))
        .await;
    let nul_value = store.set("k", json!(["a\u{0}"]), None).await;
    let nul_object_key = store.set_if_absent("k", json!({"\u{0}": 1}), None).await;

    assert!(matches!(empty, Err(Error::InvalidInput(_))), "{empty:?}");
    assert!(matches!(long, Err(Error::InvalidInput(_))), "{long:?}");
    assert!(
        matches!(zero_ttl, Err(Error::InvalidInput(_))),
        "{zero_ttl:?}"
    );
    assert!(
        matches!(tiny_ttl, Err(Error::InvalidInput(_))),
        "{tiny_ttl:?}"
    );
    assert!(
        matches!(nul_value, Err(Error::InvalidInput(_))),
        "{nul_value:?}"
    );
    assert!(
        matches!(nul_object_key, Err(Error::InvalidInput(_))),
        "{nul_object_key:?}"
    );
    assert_eq!(store.stats().await.expect("stats"), KvStats::default());
}

/// Gap: what one store handle wrote is read through another on the same storage (for
/// PostgreSQL: a new pool on the same database).
pub async fn keys_written_through_one_store_are_read_through_another<S: KvStore>(
    writer: &S,
    reopened: &S,
) {
    writer
        .set("durable", json!({"n": 1}), None)
        .await
        .expect("set");
    writer
        .set("durable-ttl", json!(2), Some(Duration::from_secs(3600)))
        .await
        .expect("set");

    assert_eq!(
        reopened.get("durable").await.expect("get"),
        Some(json!({"n": 1}))
    );
    assert_eq!(
        reopened.get("durable-ttl").await.expect("get"),
        Some(json!(2))
    );
}
