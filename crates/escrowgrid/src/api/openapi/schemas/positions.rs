//! Schemas of asset templates, assets, positions and their lifecycle.

use serde_json::{Map, Value, json};

use crate::domain::TemplateCode;

use super::{amount, currency_any_case, id, object, r, string_enum, timestamp};

/// Adds `AssetTemplate`, `NewAssetTemplate`, `Asset`, `NewAsset`, `PositionLifecycleEvent`,
/// `Position`, `NewPosition` and `TransitionRequest`.
pub(super) fn add(schemas: &mut Map<String, Value>) {
    let json_object = json!({ "type": "object", "additionalProperties": true });
    schemas.insert(
        "AssetTemplate".into(),
        object(
            &[
                "id",
                "institutionId",
                "code",
                "name",
                "vertical",
                "region",
                "config",
                "createdAt",
                "updatedAt",
            ],
            json!({
                "id": id("tmpl"), "institutionId": id("inst"),
                "code": string_enum(TemplateCode::ALL, TemplateCode::as_str),
                "name": { "type": "string" }, "vertical": r("Vertical"), "region": r("Region"),
                "config": json_object, "createdAt": timestamp(), "updatedAt": timestamp(),
            }),
        ),
    );
    schemas.insert("NewAssetTemplate".into(), object(&["code", "name", "vertical", "region"], json!({
            "institutionId": { "type": "string", "description": "Required for root; ignored unless equal to the key's institution otherwise" },
            "code": string_enum(TemplateCode::ALL, TemplateCode::as_str),
            "name": { "type": "string", "minLength": 1, "maxLength": 255 },
            "vertical": r("Vertical"), "region": r("Region"), "config": json_object,
        })));
    schemas.insert(
        "Asset".into(),
        object(
            &[
                "id",
                "institutionId",
                "templateId",
                "label",
                "metadata",
                "createdAt",
                "updatedAt",
            ],
            json!({
                "id": id("ast"), "institutionId": id("inst"), "templateId": id("tmpl"),
                "label": { "type": "string" }, "metadata": json_object,
                "createdAt": timestamp(), "updatedAt": timestamp(),
            }),
        ),
    );
    schemas.insert(
        "NewAsset".into(),
        object(
            &["templateId", "label"],
            json!({
                "institutionId": { "type": "string" }, "templateId": { "type": "string" },
                "label": { "type": "string", "minLength": 1, "maxLength": 255 },
                "metadata": json_object,
            }),
        ),
    );
    schemas.insert(
        "PositionLifecycleEvent".into(),
        object(
            &["id", "positionId", "fromState", "toState", "at"],
            json!({
                "id": id("ple"), "positionId": id("pos"),
                "fromState": { "oneOf": [r("PositionState"), { "type": "null" }] },
                "toState": r("PositionState"), "reason": { "type": "string" },
                "at": timestamp(), "metadata": json_object,
            }),
        ),
    );
    schemas.insert(
        "Position".into(),
        object(
            &[
                "id",
                "institutionId",
                "assetId",
                "holderReference",
                "currency",
                "amount",
                "state",
                "createdAt",
                "updatedAt",
                "events",
            ],
            json!({
                "id": id("pos"), "institutionId": id("inst"), "assetId": id("ast"),
                "holderReference": { "type": "string" }, "currency": r("Currency"),
                "amount": amount(), "state": r("PositionState"),
                "externalReference": { "type": "string" },
                "createdAt": timestamp(), "updatedAt": timestamp(),
                "events": { "type": "array", "items": r("PositionLifecycleEvent") },
            }),
        ),
    );
    schemas.insert(
        "NewPosition".into(),
        object(
            &["assetId", "holderReference", "currency", "amount"],
            json!({
                "institutionId": { "type": "string" }, "assetId": { "type": "string" },
                "holderReference": { "type": "string", "minLength": 1, "maxLength": 255 },
                "currency": currency_any_case(),
                "amount": amount(),
                "externalReference": { "type": "string", "maxLength": 255 },
            }),
        ),
    );
    schemas.insert(
        "TransitionRequest".into(),
        object(
            &["toState"],
            json!({
                "toState": r("PositionState"),
                "reason": { "type": "string", "maxLength": 1000 },
                "metadata": json_object,
            }),
        ),
    );
}
