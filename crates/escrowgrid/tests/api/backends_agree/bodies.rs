//! Strategies for the write requests of [`super`]: every write route, with bodies built field
//! by field from valid values, values of the wrong type or shape, NUL characters, omissions,
//! unknown fields and duplicate keys. Bodies are raw JSON text (so a key can appear twice and
//! amounts are exact decimals); `$name` placeholders stand for ids each backend substitutes
//! with its own.

use proptest::prelude::*;

/// One write request: method, path and body, with `$name` placeholders.
#[derive(Debug, Clone)]
pub struct WriteCase {
    /// `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: &'static str,
    /// The path, e.g. `/positions/$position/transition`.
    pub path: String,
    /// Whether root sends it (else the tenant's admin key).
    pub as_root: bool,
    /// Raw JSON text.
    pub body: String,
}

/// A value that fits no field: wrong types, empty or NUL strings, negative numbers.
fn wrong_value() -> BoxedStrategy<String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just(r#""""#.to_owned()),
        Just(r#""a\u0000b""#.to_owned()),
        Just("-5".to_owned()),
        Just(r#""x""#.to_owned()),
    ]
    .boxed()
}

/// A JSON string: mostly ordinary text, sometimes empty, over-long, any Unicode or with NUL.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        16 => "[A-Za-z0-9 _-]{1,24}".prop_map(|s| json_string(&s)),
        1 => Just(r#""""#.to_owned()),
        1 => "\\PC{1,12}".prop_map(|s| json_string(&s)),
        1 => Just(json_string(&"x".repeat(300))),
        1 => Just(r#""nul\u0000inside""#.to_owned()),
    ]
    .boxed()
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// One of `choices` as a JSON string.
fn one_of(choices: &'static [&'static str]) -> BoxedStrategy<String> {
    proptest::sample::select(choices)
        .prop_map(json_string)
        .boxed()
}

/// One of `choices`, raw JSON text.
fn one_of_raw(choices: &'static [&'static str]) -> BoxedStrategy<String> {
    proptest::sample::select(choices)
        .prop_map(str::to_owned)
        .boxed()
}

/// A JSON array of some of `choices`, duplicates and unknown values included.
fn some_of(choices: &'static [&'static str]) -> BoxedStrategy<String> {
    proptest::collection::vec(proptest::sample::select(choices), 0..3)
        .prop_map(|items| {
            let items: Vec<String> = items.into_iter().map(json_string).collect();
            format!("[{}]", items.join(","))
        })
        .boxed()
}

/// An amount as a raw JSON number or a mistake: decimals up to and past 8 places, zero,
/// negative, exponents, huge, a string.
fn amount() -> BoxedStrategy<String> {
    prop_oneof![
        12 => "[1-9][0-9]{0,5}(\\.[0-9]{1,8})?",
        1 => "[0-9]{1,3}\\.[0-9]{9,10}",
        1 => Just("0".to_owned()),
        1 => Just("-1.5".to_owned()),
        1 => Just("1e3".to_owned()),
        1 => Just("123456789012345678901234567890".to_owned()),
        1 => Just(r#""100""#.to_owned()),
    ]
    .boxed()
}

/// A small metadata object with arbitrary keys and scalar values (NUL in keys included).
fn metadata() -> BoxedStrategy<String> {
    proptest::collection::vec((text(), prop_oneof![text(), amount()]), 0..3)
        .prop_map(|entries| {
            let fields: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect();
            format!("{{{}}}", fields.join(","))
        })
        .boxed()
}

/// An object of `fields`, each valid (mostly), wrong or left out; sometimes with an unknown
/// field, sometimes with one key sent twice.
fn object(fields: Vec<(&'static str, BoxedStrategy<String>)>) -> BoxedStrategy<String> {
    let count = fields.len();
    let values: Vec<BoxedStrategy<Option<(&'static str, String)>>> = fields
        .into_iter()
        .map(|(name, valid)| {
            prop_oneof![
                18 => valid.prop_map(move |v| Some((name, v))),
                1 => wrong_value().prop_map(move |v| Some((name, v))),
                1 => Just(None),
            ]
            .boxed()
        })
        .collect();
    let extra = proptest::option::weighted(0.1, text());
    let duplicate = proptest::option::weighted(0.1, (0..count.max(1), amount()));
    (values, extra, duplicate)
        .prop_map(|(values, extra, duplicate)| {
            let present: Vec<(&str, String)> = values.into_iter().flatten().collect();
            let mut parts: Vec<String> = present
                .iter()
                .map(|(name, value)| format!("{}:{value}", json_string(name)))
                .collect();
            if let Some(value) = extra {
                parts.push(format!(r#""unknownField":{value}"#));
            }
            if let Some((index, value)) = duplicate
                && let Some((name, _)) = present.get(index % present.len().max(1))
            {
                parts.push(format!("{}:{value}", json_string(name)));
            }
            format!("{{{}}}", parts.join(","))
        })
        .boxed()
}

const REGIONS: &[&str] = &["US", "EU_UK", "SG", "UAE", "XX"];
const VERTICALS: &[&str] = &["CONSTRUCTION", "TRADE_FINANCE", "X"];
const CURRENCIES: &[&str] = &["USD", "usd", "EUR", "GBP", "XYZ"];
const STATES: &[&str] = &[
    "CREATED",
    "FUNDED",
    "PARTIALLY_RELEASED",
    "RELEASED",
    "CANCELLED",
    "EXPIRED",
    "X",
];
const TEMPLATE_CODES: &[&str] = &[
    "CONSTR_ESCROW",
    "CONSTR_RETAINAGE",
    "TF_INVOICE",
    "TF_LC",
    "X",
];

fn case(method: &'static str, path: &str, as_root: bool, body: String) -> WriteCase {
    WriteCase {
        method,
        path: path.to_owned(),
        as_root,
        body,
    }
}

/// Any write request of the core API, each route about equally often.
pub fn write_case() -> BoxedStrategy<WriteCase> {
    let institution = object(vec![
        ("name", text()),
        ("regions", some_of(REGIONS)),
        ("verticals", some_of(VERTICALS)),
    ])
    .prop_map(|body| case("POST", "/institutions", true, body));
    let api_key = object(vec![
        ("label", text()),
        ("role", one_of(&["admin", "read_only", "root", "x"])),
    ])
    .prop_map(|body| case("POST", "/institutions/$inst/api-keys", false, body));
    let revoke =
        proptest::sample::select(&["$spare", "$last_key", "ak_missing"][..]).prop_map(|id| {
            case(
                "POST",
                &format!("/institutions/$inst/api-keys/{id}/revoke"),
                false,
                "{}".to_owned(),
            )
        });
    let limits = object(vec![
        ("minAmount", amount()),
        ("maxAmount", amount()),
        ("allowedCurrencies", some_of(CURRENCIES)),
    ]);
    let policy = (
        proptest::sample::select(REGIONS),
        object(vec![("position", limits)]),
    )
        .prop_map(|(region, body)| {
            case(
                "PUT",
                &format!("/institutions/$inst/policies/{region}"),
                false,
                body,
            )
        });
    let config = object(vec![
        ("currency", one_of(CURRENCIES)),
        ("region", one_of(REGIONS)),
    ]);
    let template = object(vec![
        ("code", one_of(TEMPLATE_CODES)),
        ("name", text()),
        ("vertical", one_of(VERTICALS)),
        ("region", one_of(REGIONS)),
        ("config", config),
    ])
    .prop_map(|body| case("POST", "/asset-templates", false, body));
    let asset = object(vec![
        (
            "templateId",
            one_of(&["$template", "$last_template", "tmpl_missing"]),
        ),
        ("label", text()),
        ("metadata", metadata()),
    ])
    .prop_map(|body| case("POST", "/assets", false, body));
    let position = object(vec![
        ("assetId", one_of(&["$asset", "$last_asset", "ast_missing"])),
        ("holderReference", text()),
        ("currency", one_of(CURRENCIES)),
        ("amount", amount()),
        ("externalReference", text()),
    ])
    .prop_map(|body| case("POST", "/positions", false, body));
    let transition = (
        proptest::sample::select(&["$position", "$last_position"][..]),
        object(vec![
            ("toState", one_of(STATES)),
            ("reason", text()),
            ("metadata", metadata()),
        ]),
    )
        .prop_map(|(id, body)| case("POST", &format!("/positions/{id}/transition"), false, body));
    let webhook_fields = || {
        vec![
            (
                "url",
                one_of(&[
                    "https://hooks.example.com/in",
                    "http://127.0.0.1:9/hook",
                    "ftp://hooks.example.com",
                    "not a url",
                ]),
            ),
            (
                "eventTypes",
                some_of(&["*", "position.created", "ledger_event.recorded", "bogus"]),
            ),
            ("description", text()),
            ("enabled", one_of_raw(&["true", "false"])),
        ]
    };
    let webhook = object(webhook_fields()).prop_map(|body| case("POST", "/webhooks", false, body));
    let webhook_change = (
        proptest::sample::select(&["PATCH", "DELETE", "POST"][..]),
        object(webhook_fields()),
    )
        .prop_map(|(method, body)| match method {
            "PATCH" => case("PATCH", "/webhooks/$last_webhook", false, body),
            "DELETE" => case("DELETE", "/webhooks/$last_webhook", false, "{}".to_owned()),
            _ => case(
                "POST",
                "/webhooks/$last_webhook/rotate-secret",
                false,
                "{}".to_owned(),
            ),
        });
    prop_oneof![
        institution,
        api_key,
        webhook,
        webhook_change,
        revoke,
        policy,
        template,
        asset,
        position,
        transition
    ]
    .boxed()
}
