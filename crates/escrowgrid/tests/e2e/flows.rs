//! Fixture flows through the public API: institution, admin key, template, asset, position.

use std::net::SocketAddr;

use hyper::StatusCode;
use serde_json::json;

use super::client::Client;

/// Ids and the admin key of one institution with one asset.
pub struct Tenant {
    pub institution_id: String,
    pub admin_key: String,
    pub asset_id: String,
}

/// Creates an institution (as root), an admin key, a CONSTR_ESCROW template and an asset.
pub async fn tenant(addr: SocketAddr, root_key: &str) -> Tenant {
    let mut root = Client::connect(addr, Some(root_key)).await;
    let institution = root
        .post(
            "/institutions",
            &json!({"name": "Acme Escrow", "regions": ["US"], "verticals": ["CONSTRUCTION"]}),
        )
        .await
        .expect(StatusCode::CREATED);
    let institution_id = institution.str("id");
    let key = root
        .post(
            &format!("/institutions/{institution_id}/api-keys"),
            &json!({"label": "e2e admin", "role": "admin"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let admin_key = key.str("apiKey");
    let mut admin = Client::connect(addr, Some(&admin_key)).await;
    let template = admin
        .post(
            "/asset-templates",
            &json!({
                "code": "CONSTR_ESCROW", "name": "Escrow", "vertical": "CONSTRUCTION",
                "region": "US", "config": {"currency": "USD", "region": "US"}
            }),
        )
        .await
        .expect(StatusCode::CREATED);
    let asset = admin
        .post(
            "/assets",
            &json!({"templateId": template.str("id"), "label": "Tower A"}),
        )
        .await
        .expect(StatusCode::CREATED);
    Tenant {
        institution_id,
        admin_key,
        asset_id: asset.str("id"),
    }
}

/// An amount that a float would round: it must come back exactly.
pub const EXACT_AMOUNT: &str = "12345678901234.12345678";

/// The body of a valid position on `asset_id`, with [`EXACT_AMOUNT`] as a JSON number.
pub fn position_body(asset_id: &str) -> serde_json::Value {
    serde_json::from_str(&format!(
        r#"{{"assetId":"{asset_id}","holderReference":"holder-42","currency":"USD","amount":{EXACT_AMOUNT}}}"#
    ))
    .expect("valid json")
}
