//! The console in a real browser: headless Chromium driven over WebDriver (chromedriver) with
//! `fantoccini`, against the real server on a real socket, on memory and on PostgreSQL.
//! Screenshots go to `target/console-screenshots/`; every test fails on a browser console
//! error. Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).

mod console_browser {
    pub mod browser;
    pub mod server;

    mod flows;
    mod live_webhooks;
}
