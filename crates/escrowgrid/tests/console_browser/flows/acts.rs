//! The acts of the console story, in order: each one signs in, does its part and signs out,
//! handing on the ids the next acts need.

use serde_json::{Value, json};

use super::super::browser::Browser;
use super::super::server::ROOT_KEY;
use super::steps::{
    create_key, institution_with_key, open_position, pages_through_positions, sign_in, sign_out,
    stream_parser_reads_the_sse_contract,
};

/// Root: an institution and an admin key; returns (institution id, admin key).
pub(super) async fn root_creates_an_institution_and_a_key(
    b: &Browser,
    console: &str,
) -> (String, String) {
    b.open(console).await;
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
    stream_parser_reads_the_sse_contract(b).await;
    let (institution, admin_key) = institution_with_key(b, "Acme Escrow", "admin").await;
    b.screenshot("02-institution-and-key").await;
    b.assert_no_console_errors().await;
    sign_out(b).await;
    (institution, admin_key)
}

/// The admin: template, asset, position, its moves, the ledger, the audit log and narrow
/// screens; returns (the released position's page hash, the open position's page hash).
pub(super) async fn the_admin_runs_a_position(b: &Browser, admin_key: &str) -> (Value, String) {
    sign_in(b, admin_key, "admin").await;
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
    let open_hash = open_position(b, "Second LLC", "250.5").await;
    pages_through_positions(b).await;
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
    (position_hash, open_hash)
}

/// A read-only key: no write controls; a forged write is refused with a visible message.
pub(super) async fn a_read_only_key_cannot_write(b: &Browser, institution: &str, open_hash: &str) {
    b.route(&format!("#/institutions/{institution}")).await;
    let read_only = create_key(b, "auditor", "read_only").await;
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
    sign_out(b).await;
    sign_in(b, &read_only, "read_only").await;
    for page in [
        "#/positions",
        "#/templates",
        "#/assets",
        "#/institutions",
        open_hash,
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
    sign_out(b).await;
}

/// Another institution's key sees none of it; returns that institution's id.
pub(super) async fn another_institution_sees_none_of_it(
    b: &Browser,
    position_hash: &Value,
) -> String {
    sign_in(b, ROOT_KEY, "root").await;
    let (other, other_key) = institution_with_key(b, "Other Bank", "admin").await;
    sign_out(b).await;
    sign_in(b, &other_key, "admin").await;
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
    sign_out(b).await;
    other
}

/// Root sees every institution's ledger and can switch the acting institution.
pub(super) async fn root_acts_for_each_institution(b: &Browser, other: &str, institution: &str) {
    sign_in(b, ROOT_KEY, "root").await;
    b.route("#/ledger").await;
    b.until(
        "root reads the whole ledger (six positions, three moves)",
        "document.querySelectorAll('.table-wrap tbody tr').length === 9",
    )
    .await;
    b.pick("#acting", other).await;
    b.until_text("main .empty", "The ledger is empty.").await;
    b.pick("#acting", institution).await;
    b.route("#/positions").await;
    b.until_text("main table", "Second LLC").await;
    b.until_text("main table", "Builder LLC").await;
    b.screenshot("10-root-acting-institution").await;
    b.assert_contrast().await;
    b.assert_no_console_errors().await;
}
