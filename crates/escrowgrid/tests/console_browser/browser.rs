//! Headless Chromium over WebDriver: starts `chromedriver` on a free port with a fresh
//! profile, and offers the few steps the flows need (fill, click, wait for a condition with a
//! deadline, screenshots, the page's captured console errors).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::future::Future;

use fantoccini::elements::Element;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long any one condition may take to become true.
const PATIENCE: Duration = Duration::from_secs(15);

const INSTALL: &str = "the console tests need headless Chromium and its WebDriver: \
    run `apt-get install -y chromium chromium-driver` (Debian; `.ci/run` does it when missing)";

/// Finds an executable by absolute path or on `PATH`.
fn executable(candidates: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    candidates.iter().find_map(|name| {
        let direct = PathBuf::from(name);
        if direct.is_absolute() {
            return direct.is_file().then_some(direct);
        }
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Where screenshots go: `target/console-screenshots/`.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("create the screenshot dir");
    dir
}

/// Lists `[element, ratio]` for visible text under 4.5:1 (WCAG 2 relative luminance).
const CONTRAST: &str = r#"
const rgb = (text) => (text.match(/[\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
  .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
const background = (el) => {
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const low = [];
for (const el of document.body.querySelectorAll('*')) {
  const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!text || !el.getClientRects().length || getComputedStyle(el).visibility === 'hidden') continue;
  const [a, b] = [lum(rgb(getComputedStyle(el).color).slice(0, 3)), lum(background(el))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) low.push([`${el.tagName}.${el.className}: ${el.textContent.trim().slice(0, 30)}`, Math.round(ratio * 100) / 100]);
}
return low;
"#;

/// One browser session with its own chromedriver and profile.
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
    /// Screenshot file prefix (the test's name).
    prefix: String,
}

impl Browser {
    /// Starts chromedriver and headless Chromium (1280 × 900). Panics with install
    /// instructions when either is missing.
    pub async fn start(prefix: &str) -> Self {
        let chromium = executable(&["chromium", "chromium-browser", "/usr/bin/chromium"])
            .unwrap_or_else(|| panic!("chromium not found: {INSTALL}"));
        let chromedriver = executable(&["chromedriver", "/usr/bin/chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver not found: {INSTALL}"));
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL}", chromedriver.display()));
        let profile =
            std::env::temp_dir().join(format!("escrowgrid-console-{}", uuid::Uuid::new_v4()));
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        let client = loop {
            let mut builder = ClientBuilder::new(HttpConnector::new());
            builder.capabilities(capabilities.clone());
            match builder.connect(&url).await {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no WebDriver session from chromedriver at {url}: {e}"),
            }
        };
        Self {
            client,
            driver,
            profile,
            prefix: prefix.to_owned(),
        }
    }

    /// Opens `url` and waits for the page to run.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Moves the console to `#hash` (no reload) and waits until that page has loaded.
    pub async fn route(&self, hash: &str) {
        self.run(&format!("location.hash = {};", json!(hash))).await;
        let path = hash.trim_start_matches('#');
        let condition = format!(
            "document.querySelector('main').dataset.path === {} && document.querySelector('main').getAttribute('aria-busy') === 'false'",
            json!(path)
        );
        self.until(&format!("page {hash} loaded"), &condition).await;
    }

    /// Runs `script` (a function body; may `return` a promise) and returns its value.
    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `css` matches an element, and returns it.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css} within {PATIENCE:?}: {e}"))
    }

    /// Waits until `condition` (a JS expression) is truthy; `what` names it in the failure.
    pub async fn until(&self, what: &str, condition: &str) {
        let deadline = Instant::now() + PATIENCE;
        let script = format!("return Boolean({condition});");
        loop {
            if self.run(&script).await == Value::Bool(true) {
                return;
            }
            if Instant::now() >= deadline {
                let body = self.run("return document.body.innerText;").await;
                panic!(
                    "{what}: not true within {PATIENCE:?}\npage:\n{}",
                    body.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the text of `css` contains `text`.
    pub async fn until_text(&self, css: &str, text: &str) {
        let condition = format!(
            "[...document.querySelectorAll({0})].some((el) => el.textContent.includes({1}))",
            json!(css),
            json!(text)
        );
        self.until(&format!("{css} shows {text:?}"), &condition)
            .await;
    }

    /// Replaces the value of the input `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        self.act(css, |input| async move {
            input.clear().await?;
            input.send_keys(text).await
        })
        .await;
    }

    /// Runs `step` on the element `css`, finding it again when a re-render replaced it
    /// between the lookup and the step (a stale element), until [`PATIENCE`] runs out.
    async fn act<F, Fut>(&self, css: &str, step: F)
    where
        F: Fn(Element) -> Fut,
        Fut: Future<Output = Result<(), CmdError>>,
    {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match step(self.find(css).await).await {
                Ok(()) => return,
                Err(CmdError::Standard(e))
                    if e.error == ErrorStatus::StaleElementReference
                        && Instant::now() < deadline => {}
                Err(e) => panic!("{css}: {e}"),
            }
        }
    }

    /// Picks `value` in the select `css`.
    pub async fn pick(&self, css: &str, value: &str) {
        self.act(
            css,
            |select| async move { select.select_by_value(value).await },
        )
        .await;
    }

    /// Clicks `css`.
    pub async fn click(&self, css: &str) {
        self.act(css, |element| async move { element.click().await })
            .await;
    }

    /// How many elements match `css` right now.
    pub async fn count(&self, css: &str) -> u64 {
        let script = format!("return document.querySelectorAll({}).length;", json!(css));
        self.run(&script).await.as_u64().unwrap_or_default()
    }

    /// Resizes the window.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize");
    }

    /// Saves a screenshot as `target/console-screenshots/<prefix>-<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = screenshot_dir().join(format!("{}-{name}.png", self.prefix));
        std::fs::write(&path, png).expect("write the screenshot");
    }

    /// Fails the test when the page captured any console error, uncaught error, failed
    /// resource, unhandled rejection or CSP violation (see `console/errors.js`).
    pub async fn assert_no_console_errors(&self) {
        let errors = self
            .run("return window.__consoleErrors || ['errors.js did not run'];")
            .await;
        assert_eq!(errors, json!([]), "browser console errors");
    }

    /// Fails when any visible text on the page has a WCAG contrast ratio under 4.5:1 against
    /// its effective background.
    pub async fn assert_contrast(&self) {
        let low = self.low_contrast().await;
        assert_eq!(
            low,
            json!([]),
            "text with too little contrast (element, ratio)"
        );
    }

    /// `[element, ratio]` of every visible text under 4.5:1.
    pub async fn low_contrast(&self) -> Value {
        self.run(CONTRAST).await
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        self.cleanup();
    }

    fn cleanup(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.cleanup();
    }
}
