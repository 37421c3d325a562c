//! The flows of the issue, in a real browser: root creates an institution and an admin key;
//! the admin creates a template, an asset and a position, funds it and releases it part by
//! part and reads the ledger; a read-only key sees no write control and a forged write is
//! refused with a visible message; another institution's key sees none of it.

use std::future::Future;
use std::sync::Arc;

use serde_json::json;

use super::browser::Browser;
use super::server::{ROOT_KEY, Server};

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

async fn sign_in(b: &Browser, key: &str, who: &str) {
    b.fill("input[name=apiKey]", key).await;
    b.click("form[aria-label='Sign in'] button[type=submit]")
        .await;
    b.until_text("#who", who).await;
    let stored = b
        .run("return sessionStorage.getItem('escrowgrid.apiKey');")
        .await;
    assert_eq!(stored, json!(key), "the key lives in sessionStorage");
    let leaked = b
        .run("return location.href + document.cookie + localStorage.length;")
        .await;
    assert!(
        !leaked.to_string().contains(key),
        "the key is never in the URL, a cookie or localStorage"
    );
}

async fn sign_out(b: &Browser) {
    b.click("#sign-out").await;
    b.find("input[name=apiKey]").await;
    let left = b.run("return sessionStorage.length;").await;
    assert_eq!(left, json!(0), "sign-out clears the key");
}

/// Creates an institution (as root) and an API key for it; returns (institution id, token).
async fn institution_with_key(b: &Browser, name: &str, role: &str) -> (String, String) {
    b.route("#/institutions").await;
    let form = "form[aria-label='New institution']";
    b.fill(&format!("{form} input[name=name]"), name).await;
    b.click(&format!("{form} input[name=regions][value=US]"))
        .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.until_text("h1", name).await;
    let id = b.run("return location.hash.split('/').pop();").await;
    let token = create_key(b, "ops", role).await;
    (id.as_str().expect("id").to_owned(), token)
}

/// Creates a key on the open institution page and returns the token shown once.
async fn create_key(b: &Browser, label: &str, role: &str) -> String {
    let form = "form[aria-label='New API key']";
    b.fill(&format!("{form} input[name=label]"), label).await;
    b.pick(&format!("{form} select[name=role]"), role).await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.until("the new token is shown", "document.querySelector('#new-token') && document.querySelector('#new-token').value.startsWith('ak_')").await;
    let token = b
        .run("return document.querySelector('#new-token').value;")
        .await;
    token.as_str().expect("token").to_owned()
}

/// Opens a position (CREATED) on the first asset; returns its page's hash.
async fn open_position(b: &Browser, holder: &str, amount: &str) -> String {
    b.route("#/positions").await;
    let form = "form[aria-label='New position']";
    b.fill(&format!("{form} input[name=holderReference]"), holder)
        .await;
    b.pick(&format!("{form} select[name=currency]"), "USD")
        .await;
    b.fill(&format!("{form} input[name=amount]"), amount).await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.until_text("h1", &format!("{amount} USD")).await;
    let hash = b.run("return location.hash;").await;
    hash.as_str().expect("hash").to_owned()
}

/// The event-stream reader (`live.js`) against the stream's contract: `id:` cursors, `event:`
/// types, multi-line `data:`, comments, and a partial block kept for the next chunk. (The live
/// connection itself is exercised in `live_webhooks.rs`.)
async fn stream_parser_reads_the_sse_contract(b: &Browser) {
    let parsed = b.run(r#"return (async () => {
        const base = document.querySelector('script[type=module]').src.replace(/app\.js$/, '');
        const live = await import(base + 'live.js');
        const out = [];
        const rest = live.parseBlocks(': keep-alive\n\nid: 7\nevent: position.created\ndata: {"id":"e1"}\n\nid: 8\r\nevent: position.state_changed\r\ndata: {"a":\r\ndata: 1}\r\n\r\nid: 9\ndata: par', (e) => out.push(e));
        return [out, rest];
    })();"#).await;
    assert_eq!(
        parsed,
        json!([[
        { "id": "7", "type": "position.created", "data": "{\"id\":\"e1\"}" },
        { "id": "8", "type": "position.state_changed", "data": "{\"a\":\n1}" },
    ], "id: 9\ndata: par"])
    );
}

/// Adds four positions through the page's own API module, then pages through all six five at
/// a time, sorted by amount.
async fn pages_through_positions(b: &Browser) {
    let created = b.run(r#"return (async () => {
        const base = document.querySelector('script[type=module]').src.replace(/app\.js$/, '');
        const api = await import(base + 'api.js');
        const assets = await api.call('listAssets');
        for (const amount of ['101', '102', '103', '104']) {
            await api.call('createPosition', { body: { assetId: assets.data[0].id, holderReference: `bulk ${amount}`, currency: 'USD', amount: new api.Decimal(amount) } });
        }
        return (await api.call('listPositions')).pagination.total;
    })();"#).await;
    assert_eq!(created, json!(6));
    b.route("#/positions").await;
    b.pick("select[name=limit]", "5").await;
    b.pick("select[name=sort]", "amount-desc").await;
    b.click("form[aria-label='Filter positions'] button[type=submit]")
        .await;
    b.until_text(".pager", "1–5 of 6").await;
    let amounts = b.run("return [...document.querySelectorAll('.table-wrap tbody tr')].map((r) => r.cells[1].textContent);").await;
    assert_eq!(amounts.as_array().map(Vec::len), Some(5));
    b.click(".pager button:last-child").await;
    b.until_text(".pager", "6–6 of 6").await;
    b.click(".pager button:first-child").await;
    b.until_text(".pager", "1–5 of 6").await;
}

/// Everything the issue's browser tests ask for, on one server.
async fn whole_story(b: Arc<Browser>, console: String) {
    // Root: an institution and an admin key.
    b.open(&console).await;
    b.find("input[name=apiKey]").await;
    let probe = b
        .run("console.error('probe'); return window.__consoleErrors.splice(0);")
        .await;
    assert_eq!(probe, json!(["probe"]), "console errors are captured");
    b.screenshot("01-sign-in").await;
    b.assert_contrast().await;
    b.run("const p = document.createElement('p'); p.id = 'faint'; p.textContent = 'faint'; p.style.color = '#bbbbbb'; document.body.append(p);").await;
    let faint = b.low_contrast().await;
    assert_eq!(
        faint.as_array().map(Vec::len),
        Some(1),
        "the contrast check sees faint text: {faint}"
    );
    b.run("document.getElementById('faint').remove();").await;
    // Keyboard only: the key field has the focus, Enter submits.
    let focused = b.run("return document.activeElement.name;").await;
    assert_eq!(focused, json!("apiKey"));
    b.find("input[name=apiKey]")
        .await
        .send_keys(&format!("{ROOT_KEY}\u{E007}"))
        .await
        .expect("type");
    b.until_text("#who", "root").await;
    stream_parser_reads_the_sse_contract(&b).await;
    let (institution, admin_key) = institution_with_key(&b, "Acme Escrow", "admin").await;
    b.screenshot("02-institution-and-key").await;
    b.assert_no_console_errors().await;
    sign_out(&b).await;

    // The admin: template, asset, position.
    sign_in(&b, &admin_key, "admin").await;
    b.route("#/templates").await;
    let form = "form[aria-label='New asset template']";
    b.pick(&format!("{form} select[name=vertical]"), "CONSTRUCTION")
        .await;
    b.pick(&format!("{form} select[name=code]"), "CONSTR_ESCROW")
        .await;
    b.fill(&format!("{form} input[name=name]"), "Site escrow")
        .await;
    b.pick(&format!("{form} select[name=currency]"), "USD")
        .await;
    let region = b
        .run(&format!(
            "return document.querySelector(\"{form} input[name=region]\").value;"
        ))
        .await;
    assert_eq!(
        region,
        json!("US"),
        "the config region follows the template region"
    );
    b.fill(&format!("{form} input[name=minAmount]"), "100")
        .await;
    b.fill(&format!("{form} input[name=maxAmount]"), "50").await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.until_text(
        "[data-for='config.minAmount'] .field-error",
        "at most maxAmount",
    )
    .await;
    b.screenshot("03-template-rule-error").await;
    b.fill(&format!("{form} input[name=maxAmount]"), "5000000")
        .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.until_text("table", "Site escrow").await;

    b.route("#/assets").await;
    b.fill("form[aria-label='New asset'] input[name=label]", "Tower A")
        .await;
    b.click("form[aria-label='New asset'] button[type=submit]")
        .await;
    b.until_text("table", "Tower A").await;

    b.route("#/positions").await;
    let form = "form[aria-label='New position']";
    b.pick(&format!("{form} select[name=currency]"), "USD")
        .await;
    b.fill(&format!("{form} input[name=amount]"), "1250000.12345678")
        .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.until("the API's field error is next to the holder reference",
        "document.querySelector('[data-for=holderReference] .field-error') && !document.querySelector('[data-for=holderReference] .field-error').hidden").await;
    b.until_text("[data-for=holderReference] .field-error", "required")
        .await;
    let invalid = b.run("return document.activeElement.name + ' ' + document.activeElement.getAttribute('aria-invalid');").await;
    assert_eq!(
        invalid,
        json!("holderReference true"),
        "focus moves to the field in error"
    );
    b.screenshot("04-position-field-error").await;
    b.fill(
        &format!("{form} input[name=holderReference]"),
        "Builder LLC",
    )
    .await;
    b.fill(&format!("{form} input[name=amount]"), "99.5").await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.until_text(
        "[data-for=amount] .field-error",
        "below minimum for template",
    )
    .await;
    b.fill(&format!("{form} input[name=amount]"), "1250000.12345678")
        .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.until_text("h1", "1250000.12345678 USD").await;

    // Fund, then release part by part; only the allowed transitions are offered.
    let offered = b
        .run("return [...document.querySelectorAll('button[data-to]')].map((b) => b.dataset.to);")
        .await;
    assert_eq!(offered, json!(["FUNDED", "CANCELLED", "EXPIRED"]));
    for (to, reason) in [
        ("FUNDED", "wire received"),
        ("PARTIALLY_RELEASED", "first milestone"),
        ("RELEASED", "handover"),
    ] {
        b.fill("input[name=reason]", reason).await;
        b.click(&format!("button[data-to={to}]")).await;
        b.until_text("#position-state", to).await;
        b.until_text("#timeline", reason).await;
    }
    assert_eq!(b.count("button[data-to]").await, 0, "RELEASED is final");
    assert_eq!(b.count("#timeline li").await, 4);
    b.until(
        "the ledger lists the creation and the three moves",
        "document.querySelectorAll('table[aria-label], .table-wrap tbody tr').length >= 4",
    )
    .await;
    let ledger = b.run("return [...document.querySelectorAll('.table-wrap tbody tr')].map((r) => r.cells[2].textContent);").await;
    assert_eq!(
        ledger,
        json!([
            "CREATED",
            "CREATED → FUNDED",
            "FUNDED → PARTIALLY_RELEASED",
            "PARTIALLY_RELEASED → RELEASED"
        ])
    );
    let position_hash = b.run("return location.hash;").await;
    b.route("#/audit").await;
    b.pick("select[name=action]", "POSITION_TRANSITIONED").await;
    b.click("form[aria-label='Filter the audit log'] button[type=submit]")
        .await;
    b.until("the audit log filtered to the three moves",
        "document.querySelectorAll('.table-wrap tbody tr').length === 3 && [...document.querySelectorAll('.table-wrap tbody tr')].every((r) => r.textContent.includes('POSITION_TRANSITIONED'))").await;
    b.screenshot("05-audit-filtered").await;
    b.assert_contrast().await;
    let open_hash = open_position(&b, "Second LLC", "250.5").await;
    pages_through_positions(&b).await;
    b.route(position_hash.as_str().expect("hash")).await;
    b.until_text("#position-state", "RELEASED").await;
    b.screenshot("06-position-1280").await;
    b.assert_contrast().await;
    b.resize(390, 844).await;
    b.until(
        "no horizontal scrolling at 390 px",
        "document.documentElement.scrollWidth <= window.innerWidth",
    )
    .await;
    b.screenshot("07-position-390").await;
    b.assert_contrast().await;
    b.route("#/positions").await;
    b.until(
        "no horizontal scrolling of the positions page at 390 px (tables scroll in place)",
        "document.documentElement.scrollWidth <= window.innerWidth",
    )
    .await;
    b.screenshot("07-positions-390").await;
    b.route(position_hash.as_str().expect("hash")).await;
    b.resize(1280, 900).await;
    b.assert_no_console_errors().await;

    // A read-only key: no write controls; a forged write is refused with a visible message.
    b.route(&format!("#/institutions/{institution}")).await;
    let read_only = create_key(&b, "auditor", "read_only").await;
    let form = "form[aria-label='Set a policy']";
    b.fill(&format!("{form} input[name=maxAmount]"), "abc")
        .await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.until_text("[data-for='position.maxAmount'] .field-error", "decimal")
        .await;
    b.fill(&format!("{form} input[name=maxAmount]"), "2000000.5")
        .await;
    b.click(&format!("{form} input[value=USD]")).await;
    b.click(&format!("{form} button[type=submit]")).await;
    b.until_text("main table", "2000000.5").await;
    sign_out(&b).await;
    sign_in(&b, &read_only, "read_only").await;
    for page in [
        "#/positions",
        "#/templates",
        "#/assets",
        "#/institutions",
        &open_hash,
    ] {
        b.route(page).await;
        b.until(
            &format!("{page} loaded"),
            "!document.querySelector('main .loading')",
        )
        .await;
        assert_eq!(
            b.count("main form.card, button[data-to], button.danger")
                .await,
            0,
            "write controls on {page}"
        );
    }
    b.until_text("#position-state", "CREATED").await;
    let status = b.run("return (async () => {
        const base = document.querySelector('script[type=module]').src.replace(/app\\.js$/, '');
        const api = await import(base + 'api.js');
        try { await api.call('createAsset', { body: { templateId: 'tmpl_x', label: 'forged' } }); return 'accepted'; }
        catch (error) { return error.status; }
    })();").await;
    assert_eq!(status, json!(403));
    b.until_text("#status", "Write access forbidden for read_only API key")
        .await;
    b.screenshot("08-read-only-forged-write").await;
    b.assert_contrast().await;
    b.assert_no_console_errors().await;
    sign_out(&b).await;

    // Another institution's key sees none of it.
    sign_in(&b, ROOT_KEY, "root").await;
    let (other, other_key) = institution_with_key(&b, "Other Bank", "admin").await;
    sign_out(&b).await;
    sign_in(&b, &other_key, "admin").await;
    for (page, empty) in [
        ("#/positions", "No positions yet."),
        ("#/templates", "No templates yet."),
        ("#/assets", "No assets yet."),
    ] {
        b.route(page).await;
        b.until_text("main .empty", empty).await;
    }
    b.route("#/institutions").await;
    b.until_text("main table", "Other Bank").await;
    let visible = b
        .run("return document.querySelector('main').textContent;")
        .await;
    assert!(
        !visible.to_string().contains("Acme Escrow"),
        "another tenant's institution is visible"
    );
    b.route(position_hash.as_str().expect("hash")).await;
    b.until_text("main", "Position not found").await;
    b.screenshot("09-other-institution").await;
    b.assert_no_console_errors().await;
    sign_out(&b).await;

    // Root sees every institution's ledger and can switch the acting institution.
    sign_in(&b, ROOT_KEY, "root").await;
    b.route("#/ledger").await;
    b.until(
        "root reads the whole ledger (six positions, three moves)",
        "document.querySelectorAll('.table-wrap tbody tr').length === 9",
    )
    .await;
    b.pick("#acting", &other).await;
    b.until_text("main .empty", "The ledger is empty.").await;
    b.pick("#acting", &institution).await;
    b.route("#/positions").await;
    b.until_text("main table", "Second LLC").await;
    b.until_text("main table", "Builder LLC").await;
    b.screenshot("10-root-acting-institution").await;
    b.assert_contrast().await;
    b.assert_no_console_errors().await;
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
