//! The flows of the issue, in a real browser: root creates an institution and an admin key;
//! the admin creates a template, an asset and a position, funds it and releases it part by
//! part and reads the ledger; a read-only key sees no write control and a forged write is
//! refused with a visible message; another institution's key sees none of it.

use std::future::Future;
use std::sync::Arc;

use super::browser::Browser;
use super::server::Server;

mod acts;
mod steps;

/// Runs `flow` with a fresh browser, and always closes the browser (also when it panics).
async fn with_browser<F, Fut>(prefix: &str, flow: F)
where
    F: FnOnce(Arc<Browser>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let browser = Arc::new(Browser::start(prefix).await);
    let outcome = tokio::spawn(flow(Arc::clone(&browser))).await;
    if let Ok(browser) = Arc::try_unwrap(browser) {
        browser.close().await;
    }
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// Everything the browser tests ask for, on one server.
async fn whole_story(b: Arc<Browser>, console: String) {
    let (institution, admin_key) = acts::root_creates_an_institution_and_a_key(&b, &console).await;
    let (position_hash, open_hash) = acts::the_admin_runs_a_position(&b, &admin_key).await;
    acts::a_read_only_key_cannot_write(&b, &institution, &open_hash).await;
    let other = acts::another_institution_sees_none_of_it(&b, &position_hash).await;
    acts::root_acts_for_each_institution(&b, &other, &institution).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_console_story_works_in_a_real_browser_on_memory() {
    let server = Server::start(None).await;
    let console = server.console_url();
    with_browser("memory", |b| whole_story(b, console)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_console_story_works_in_a_real_browser_on_postgres() {
    let db = testkit::database().await;
    let server = Server::start(Some(db.url())).await;
    let console = server.console_url();
    with_browser("postgres", |b| whole_story(b, console)).await;
    server.stop().await;
}
