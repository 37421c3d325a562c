//! Small steps the acts share: signing in and out, creating institutions, keys and positions,
//! and two checks of the console's own modules.

use serde_json::json;

use super::super::browser::Browser;

pub(super) async fn sign_in(b: &Browser, key: &str, who: &str) {
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

pub(super) async fn sign_out(b: &Browser) {
    b.click("#sign-out").await;
    b.find("input[name=apiKey]").await;
    let left = b.run("return sessionStorage.length;").await;
    assert_eq!(left, json!(0), "sign-out clears the key");
}

/// Creates an institution (as root) and an API key for it; returns (institution id, token).
pub(super) async fn institution_with_key(b: &Browser, name: &str, role: &str) -> (String, String) {
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
pub(super) async fn create_key(b: &Browser, label: &str, role: &str) -> String {
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
pub(super) async fn open_position(b: &Browser, holder: &str, amount: &str) -> String {
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
pub(super) async fn stream_parser_reads_the_sse_contract(b: &Browser) {
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
pub(super) async fn pages_through_positions(b: &Browser) {
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
