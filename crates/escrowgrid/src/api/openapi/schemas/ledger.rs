//! Schemas of the tamper-evident ledger (events, checkpoints, verification) and the audit
//! trail.

use serde_json::{Map, Value, json};

use crate::domain::{AuditAction, AuditOutcome, LedgerEventKind, ResourceType};

use super::{hash_hex, id, object, r, string_enum, timestamp};

/// Adds `LedgerEvent`, `LedgerCheckpoint`, `LedgerVerification` and `AuditEvent`.
pub(super) fn add(schemas: &mut Map<String, Value>) {
    let json_object = json!({ "type": "object", "additionalProperties": true });
    schemas.insert(
        "LedgerEvent".into(),
        object(
            &[
                "id",
                "kind",
                "positionId",
                "institutionId",
                "at",
                "newState",
                "payload",
            ],
            json!({
                "id": id("led"), "kind": string_enum(LedgerEventKind::ALL, LedgerEventKind::as_str),
                "positionId": id("pos"), "institutionId": id("inst"), "at": timestamp(),
                "previousState": r("PositionState"), "newState": r("PositionState"),
                "payload": json_object,
                "hash": hash_hex(), "previousHash": hash_hex(),
                "onchain": {
                    "type": "object",
                    "description": "Only with the on-chain ledger enabled (docs/ONCHAIN.md)",
                    "properties": {
                        "status": {"type": "string", "enum": ["pending", "confirmed", "failed", "skipped"]},
                        "txHash": {"type": ["string", "null"]},
                        "blockNumber": {"type": ["integer", "null"]},
                        "chainId": {"type": ["integer", "null"]},
                    },
                },
            }),
        ),
    );
    schemas.insert(
        "LedgerCheckpoint".into(),
        object(
            &["number", "createdAt", "fence", "eventCount", "eventsRoot", "hash"],
            json!({
                "number": { "type": "integer" }, "createdAt": timestamp(),
                "fence": { "type": "integer" }, "eventCount": { "type": "integer" },
                "eventsRoot": hash_hex(), "previousHash": hash_hex(), "hash": hash_hex(),
                "onchain": { "type": ["object", "null"], "description": "Reserved: anchoring on chain is not built yet" },
            }),
        ),
    );
    schemas.insert(
        "LedgerVerification".into(),
        object(
            &[
                "ok",
                "eventsChecked",
                "chainsChecked",
                "unhashedEvents",
                "checkpointsChecked",
            ],
            json!({
                "ok": { "type": "boolean" },
                "eventsChecked": { "type": "integer" },
                "chainsChecked": { "type": "integer" },
                "unhashedEvents": { "type": "integer" },
                "checkpointsChecked": { "type": "integer" },
                "checkpointBreak": object(
                    &["number", "reason", "detail"],
                    json!({
                        "number": { "type": "integer" },
                        "reason": { "type": "string", "enum": ["count", "root", "hash", "chain"] },
                        "detail": { "type": "string" },
                    }),
                ),
                "break": object(
                    &["eventId", "positionId", "index", "reason", "detail"],
                    json!({
                        "eventId": id("led"), "positionId": id("pos"),
                        "index": { "type": "integer" },
                        "reason": { "type": "string",
                            "enum": ["edited", "deleted", "inserted", "reordered"] },
                        "detail": { "type": "string" },
                    }),
                ),
            }),
        ),
    );
    schemas.insert("AuditEvent".into(), object(&["id", "occurredAt", "createdAt", "method", "path", "action", "outcome"], json!({
            "id": id("aud"), "occurredAt": timestamp(), "createdAt": timestamp(),
            "requestId": { "type": "string" }, "apiKeyId": id("ak"), "institutionId": id("inst"),
            "method": { "type": "string" }, "path": { "type": "string" },
            "action": string_enum(AuditAction::ALL, AuditAction::as_str),
            "outcome": string_enum(AuditOutcome::ALL, AuditOutcome::as_str),
            "resourceType": string_enum(ResourceType::ALL, ResourceType::as_str),
            "resourceId": { "type": "string" }, "payload": {},
            "error": object(&["message"], json!({
                "code": { "type": "string" }, "message": { "type": "string" }, "details": {},
            })),
            "statusCode": { "type": "integer" }, "clientIp": { "type": "string" },
        })));
}
