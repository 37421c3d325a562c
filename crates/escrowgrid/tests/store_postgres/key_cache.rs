//! The API-key cache (`store/postgres/key_cache.rs`): a cached key costs no statement, is never
//! trusted beyond its TTL (the instant is passed in, no sleeping), and a revoke by another
//! store on the same database reaches this one's cache through LISTEN/NOTIFY.

use std::time::{Duration, Instant};

use escrowgrid::domain::{ApiKeyRole, NewApiKey};
use escrowgrid::store::postgres::{API_KEYS_CHANNEL, PgEscrowStore};
use escrowgrid::store::{CreatedApiKey, EscrowStore};
use escrowgrid::testing::fixtures::{audit, institution, scope};
use gridstore::postgres::{ListenerOptions, PgConfig, PgListener};

const TTL: Duration = Duration::from_secs(10);

/// A store on `url` with its own pool, listener and cache (one "instance").
async fn cached_store(url: &str) -> PgEscrowStore {
    let config = PgConfig::from_url(url).unwrap();
    let listener =
        PgListener::start_with_channels(&config, ListenerOptions::default(), &[API_KEYS_CHANNEL])
            .await
            .unwrap();
    PgEscrowStore::connect(&config)
        .await
        .unwrap()
        .with_api_key_cache(listener, TTL)
        .unwrap()
}

async fn admin_key(store: &PgEscrowStore) -> CreatedApiKey {
    let acme = institution(store, "Acme").await;
    let new = NewApiKey {
        institution_id: acme.id.clone(),
        label: "ops".into(),
        role: ApiKeyRole::Admin,
    };
    store
        .create_api_key(&scope(&acme), new, &audit())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_cached_key_is_never_trusted_beyond_its_ttl_even_without_a_notification() {
    // Arrange
    let (migrated, database) = super::support::migrated_store().await;
    drop(migrated);
    let store = cached_store(database.url()).await;
    let created = admin_key(&store).await;
    let token = &created.token;
    let read_at = Instant::now();
    let before = store.statement_count();
    assert!(
        store
            .find_api_key_at(token, read_at)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.statement_count() - before,
        1,
        "the first lookup reads"
    );

    // Revoked by hand in SQL: no notification reaches the cache.
    let client = store.pool().get().await.unwrap();
    let revoked = client
        .execute(
            "update api_keys set revoked_at = now() where id = $1",
            &[&created.api_key.id.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(revoked, 1);

    // Act + Assert: trusted until the TTL has passed since the read began, not a moment more.
    let before = store.statement_count();
    let just_before = read_at + TTL - Duration::from_millis(1);
    let cached = store.find_api_key_at(token, just_before).await.unwrap();
    assert_eq!(cached.map(|key| key.id), Some(created.api_key.id.clone()));
    assert_eq!(store.statement_count() - before, 0, "served from the cache");
    let at_expiry = store.find_api_key_at(token, read_at + TTL).await.unwrap();
    assert_eq!(
        at_expiry, None,
        "an expired entry is read again and found revoked"
    );
    assert_eq!(store.statement_count() - before, 1);
}

#[tokio::test]
async fn a_revoke_by_another_instance_is_refused_here_within_one_second() {
    // Arrange: two stores ("instances") on one database, both with the key cached.
    let (migrated, database) = super::support::migrated_store().await;
    drop(migrated);
    let first = cached_store(database.url()).await;
    let second = cached_store(database.url()).await;
    let created = admin_key(&first).await;
    let token = &created.token;
    assert!(first.find_api_key_by_token(token).await.unwrap().is_some());
    assert!(second.find_api_key_by_token(token).await.unwrap().is_some());
    let before = second.statement_count();
    assert!(second.find_api_key_by_token(token).await.unwrap().is_some());
    assert_eq!(
        second.statement_count(),
        before,
        "the second instance cached it"
    );

    // Act
    let acme = scope_of(&created);
    first
        .revoke_api_key(
            &acme,
            &created.api_key.institution_id,
            &created.api_key.id,
            &audit(),
        )
        .await
        .unwrap();

    // Assert: the revoking instance at once; the other within one second (the TTL is 10 s).
    assert_eq!(first.find_api_key_by_token(token).await.unwrap(), None);
    let deadline = Instant::now() + Duration::from_secs(1);
    while second.find_api_key_by_token(token).await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the other instance still accepts the revoked key after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn the_cache_refuses_a_listener_that_does_not_hear_revocations() {
    let (store, database) = super::support::migrated_store().await;
    let config = PgConfig::from_url(database.url()).unwrap();
    let deaf = PgListener::start(&config).await.unwrap();
    let refused = store.with_api_key_cache(deaf, TTL);
    assert!(
        refused.is_err(),
        "a cache nobody invalidates must not start"
    );
}

fn scope_of(created: &CreatedApiKey) -> escrowgrid::store::Scope {
    escrowgrid::store::Scope::Institution(created.api_key.institution_id.clone())
}
