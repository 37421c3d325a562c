//! `/console`: served without a key under a strict CSP, cached by build hash, off with
//! `CONSOLE_ENABLED=false`; the read-only documents it is built from (`/me`, `/lifecycle`,
//! `/asset-templates/rules`); and its contract (`console/contract.js`) against the OpenAPI
//! document the server generates.

use std::collections::BTreeSet;

use escrowgrid::api::console::{ASSETS, BUILD_HASH, CSP, INDEX};
use escrowgrid::api::openapi::document;
use escrowgrid::domain::PositionState;
use escrowgrid::lifecycle;
use serde_json::{Value, json};

use super::helpers::{ROOT, TestApp};

#[tokio::test]
async fn the_console_page_is_served_without_a_key_under_a_strict_csp() {
    let app = TestApp::new();
    for path in ["/console", "/console/"] {
        let reply = app.get(path).send().await;
        assert_eq!(reply.status.as_u16(), 200, "{path}: {}", reply.text);
        assert_eq!(reply.header("content-security-policy"), Some(CSP));
        assert_eq!(reply.header("cache-control"), Some("no-cache"));
        assert!(
            reply
                .header("content-type")
                .unwrap_or_default()
                .starts_with("text/html")
        );
        assert!(
            reply
                .text
                .contains(&format!("/console/{}/app.js", *BUILD_HASH))
        );
        assert!(!reply.text.contains("<script>"), "no inline script");
        assert!(!reply.text.contains("style="), "no inline style");
    }
    for directive in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(CSP.contains(directive), "{directive}");
    }
    assert!(!CSP.contains("unsafe"), "no unsafe-inline or unsafe-eval");
}

#[tokio::test]
async fn assets_are_immutable_under_the_build_hash_and_any_other_path_is_the_json_404() {
    let app = TestApp::new();
    for (name, content_type, body) in ASSETS {
        let reply = app
            .get(&format!("/console/{}/{name}", *BUILD_HASH))
            .send()
            .await;
        assert_eq!(reply.status.as_u16(), 200, "{name}");
        assert_eq!(reply.header("content-type"), Some(*content_type));
        assert_eq!(
            reply.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(reply.header("content-security-policy"), Some(CSP));
        assert_eq!(reply.text, *body);
    }
    for path in [
        "/console/0000000000000000/app.js".to_owned(),
        format!("/console/{}/nope.js", *BUILD_HASH),
        format!("/console/{}/../Cargo.toml", *BUILD_HASH),
        "/console/app.js".to_owned(),
        "/console/nope".to_owned(),
    ] {
        let reply = app.get(&path).send().await;
        assert_eq!(
            reply.expect(404),
            &json!({ "error": "Not found" }),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_disabled_console_answers_the_json_404_on_every_path() {
    let app = TestApp::with(|s| s.console_enabled = false);
    for path in [
        "/console".to_owned(),
        "/console/".to_owned(),
        format!("/console/{}/app.js", *BUILD_HASH),
    ] {
        let reply = app.get(&path).send().await;
        assert_eq!(
            reply.expect(404),
            &json!({ "error": "Not found" }),
            "{path}"
        );
        assert!(reply.header("content-security-policy").is_none());
    }
}

#[test]
fn the_first_load_is_under_150_kb() {
    let total: usize = INDEX.len() + ASSETS.iter().map(|(_, _, body)| body.len()).sum::<usize>();
    assert!(total < 150 * 1024, "the console weighs {total} bytes");
}

#[tokio::test]
async fn me_tells_each_key_its_role_and_whether_it_may_write() {
    let app = TestApp::new();
    let tenant = app.tenant("Acme").await;
    let root = app.get("/me").key(ROOT).send().await;
    assert_eq!(
        root.expect(200),
        &json!({ "role": "root", "canWrite": true })
    );
    let admin = app.get("/me").key(&tenant.admin).send().await;
    let admin = admin.expect(200);
    assert_eq!(admin["role"], "admin");
    assert_eq!(admin["canWrite"], true);
    assert_eq!(admin["institutionId"], tenant.id.as_str());
    assert_eq!(admin["apiKeyId"], tenant.admin_key_id.as_str());
    let read_only = app.get("/me").key(&tenant.read_only).send().await;
    let read_only = read_only.expect(200);
    assert_eq!(read_only["role"], "read_only");
    assert_eq!(read_only["canWrite"], false);
    assert!(
        !read_only.to_string().contains(&tenant.read_only),
        "no token echoed"
    );
    app.get("/me")
        .send()
        .await
        .expect_error(401, "Missing API key");
}

#[tokio::test]
async fn the_lifecycle_route_lists_exactly_what_the_state_machine_allows() {
    let app = TestApp::new();
    let reply = app.get("/lifecycle").key(ROOT).send().await;
    let doc = reply.expect(200);
    for from in PositionState::ALL {
        let listed: BTreeSet<&str> = doc["transitions"][from.as_str()]
            .as_array()
            .expect("a list per state")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let allowed: BTreeSet<&str> = PositionState::ALL
            .iter()
            .filter(|to| matches!(lifecycle::decide(*from, **to), Ok(Some(_))))
            .map(|to| to.as_str())
            .collect();
        assert_eq!(listed, allowed, "{from}");
        let terminal = doc["terminal"]
            .as_array()
            .expect("terminal")
            .contains(&json!(from.as_str()));
        assert_eq!(terminal, lifecycle::is_terminal(*from), "{from}");
    }
}

/// A config for `code` built only from the served rules: every field at a valid value.
fn config_from_rules(code: &Value, region: &str, currencies: &Value) -> Value {
    let mut config = serde_json::Map::new();
    for field in code["fields"].as_array().expect("fields") {
        let value = match field["kind"].as_str().expect("kind") {
            "currency" => currencies[0].clone(),
            "templateRegion" => json!(region),
            "text" => json!("DE"),
            "number" => json!(10),
            "percentage" => field["maximum"].clone(),
            "positiveNumber" => json!(field["exclusiveMinimum"].as_f64().expect("bound") + 1.0),
            other => panic!("unknown kind {other}"),
        };
        config.insert(field["key"].as_str().expect("key").to_owned(), value);
    }
    Value::Object(config)
}

#[tokio::test]
async fn a_config_built_from_the_served_rules_is_accepted_and_one_past_a_bound_is_refused() {
    let app = TestApp::new();
    let tenant = app.tenant("Rules").await;
    let rules = app
        .get("/asset-templates/rules")
        .key(&tenant.read_only)
        .send()
        .await;
    let rules = rules.expect(200).clone();
    let codes = rules["codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 4);
    for code in codes {
        let config = config_from_rules(code, "US", &rules["currencies"]);
        let body = json!({
            "name": "t", "code": code["code"], "vertical": code["vertical"], "region": "US",
            "config": config,
        });
        app.create_template(&tenant.admin, body.clone())
            .await
            .expect(201);
        for field in code["fields"].as_array().expect("fields") {
            let Some(max) = field["maximum"].as_f64() else {
                continue;
            };
            let mut past = body.clone();
            past["config"][field["key"].as_str().expect("key")] = json!(max + 1.0);
            let reply = app.create_template(&tenant.admin, past).await;
            reply.expect_error(400, "Failed to create asset template");
        }
    }
}

/// `console/contract.js` as JSON (the object after `export default`).
fn console_contract() -> Value {
    let text = include_str!("../../console/contract.js");
    let start = text.find("export default").expect("export default") + "export default".len();
    let end = text.rfind('}').expect("closing brace") + 1;
    serde_json::from_str(&text[start..end]).expect("contract.js holds a JSON object")
}

fn schema_properties(doc: &Value, name: &str) -> BTreeSet<String> {
    let schema = &doc["components"]["schemas"][name];
    assert!(
        schema.is_object(),
        "schema {name} is missing from the OpenAPI document"
    );
    let parts: Vec<&Value> = match schema["allOf"].as_array() {
        Some(parts) => parts.iter().collect(),
        None => vec![schema],
    };
    let mut names = BTreeSet::new();
    for part in parts {
        let part = match part["$ref"].as_str() {
            Some(reference) => {
                &doc["components"]["schemas"][reference.rsplit('/').next().unwrap_or_default()]
            }
            None => part,
        };
        if let Some(properties) = part["properties"].as_object() {
            names.extend(properties.keys().cloned());
        }
    }
    names
}

fn operation<'a>(doc: &'a Value, op: &Value) -> (&'a Value, String) {
    let method = op[0].as_str().expect("method").to_ascii_lowercase();
    let path = op[1].as_str().expect("path");
    (&doc["paths"][path][&method], format!("{method} {path}"))
}

#[test]
fn every_request_and_field_of_the_console_matches_the_generated_openapi_document() {
    let doc = document();
    let contract = console_contract();
    // The optional operations (stream, webhooks) are in the default server's document too, so
    // they are checked like the others.
    let mut operations = contract["operations"]
        .as_object()
        .expect("operations")
        .clone();
    operations.extend(contract["optional"].as_object().expect("optional").clone());
    for (name, op) in &operations {
        let (found, label) = operation(&doc, op);
        assert!(
            found.is_object(),
            "console operation {name} ({label}) is not in the API"
        );
    }
    for (name, params) in contract["queries"].as_object().expect("queries") {
        let (found, label) = operation(&doc, &operations[name]);
        let declared: BTreeSet<&str> = found["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
            .collect();
        for param in params.as_array().expect("params") {
            let param = param.as_str().expect("name");
            assert!(
                declared.contains(param),
                "{label} has no query parameter {param}"
            );
        }
    }
    for (name, spec) in contract["bodies"].as_object().expect("bodies") {
        let (found, label) = operation(&doc, &operations[name]);
        let schema = spec[0].as_str().expect("schema name");
        assert_eq!(
            found["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{schema}"),
            "{label} takes another body"
        );
        let properties = schema_properties(&doc, schema);
        for field in spec[1].as_array().expect("fields") {
            let field = field.as_str().expect("field");
            assert!(properties.contains(field), "{schema} has no field {field}");
        }
    }
    for (name, op) in &operations {
        let (found, label) = operation(&doc, op);
        let path = op[1].as_str().expect("path");
        for param in path.split('{').skip(1).filter_map(|p| p.split('}').next()) {
            let declared = found["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["in"] == "path" && p["name"] == param);
            assert!(
                declared,
                "{name}: {label} does not declare path parameter {param}"
            );
        }
    }
    for (schema, fields) in contract["reads"].as_object().expect("reads") {
        let properties = schema_properties(&doc, schema);
        for field in fields.as_array().expect("fields") {
            let field = field.as_str().expect("field");
            assert!(
                properties.contains(field),
                "the console reads {schema}.{field}, which the API does not have"
            );
        }
    }
}

#[test]
fn the_console_only_calls_operations_listed_in_its_contract() {
    let contract = console_contract();
    let known = |name: &str| {
        contract["operations"].get(name).is_some() || contract["optional"].get(name).is_some()
    };
    let mut calls = 0;
    for (file, _, body) in ASSETS.iter().filter(|(name, _, _)| name.ends_with(".js")) {
        for piece in body
            .split("call('")
            .skip(1)
            .chain(body.split("url('").skip(1))
        {
            let name = piece.split('\'').next().unwrap_or_default();
            assert!(
                known(name),
                "{file} calls {name}, which is not in contract.js"
            );
            calls += 1;
        }
    }
    assert!(calls > 20, "only {calls} calls found: the scan is broken");
}
