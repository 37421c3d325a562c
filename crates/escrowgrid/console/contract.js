// The console's whole contract with the API: every request it makes (by operation name), the
// query parameters it sends and the fields it reads from each schema. A Rust test checks this
// file against the OpenAPI document the server generates, so the two cannot drift apart.
// `optional` operations are used only when the server's document lists them.
export default {
  "operations": {
    "me": ["GET", "/me"],
    "openapi": ["GET", "/openapi.json"],
    "lifecycle": ["GET", "/lifecycle"],
    "templateRules": ["GET", "/asset-templates/rules"],
    "listInstitutions": ["GET", "/institutions"],
    "createInstitution": ["POST", "/institutions"],
    "getInstitution": ["GET", "/institutions/{id}"],
    "listApiKeys": ["GET", "/institutions/{id}/api-keys"],
    "createApiKey": ["POST", "/institutions/{id}/api-keys"],
    "revokeApiKey": ["POST", "/institutions/{id}/api-keys/{keyId}/revoke"],
    "listPolicies": ["GET", "/institutions/{id}/policies"],
    "upsertPolicy": ["PUT", "/institutions/{id}/policies/{region}"],
    "listTemplates": ["GET", "/asset-templates"],
    "createTemplate": ["POST", "/asset-templates"],
    "listAssets": ["GET", "/assets"],
    "createAsset": ["POST", "/assets"],
    "listPositions": ["GET", "/positions"],
    "createPosition": ["POST", "/positions"],
    "getPosition": ["GET", "/positions/{id}"],
    "transitionPosition": ["POST", "/positions/{id}/transition"],
    "listLedger": ["GET", "/ledger-events"],
    "listAudit": ["GET", "/audit-events"]
  },
  "optional": {
    "eventStream": ["GET", "/events/stream"],
    "listWebhooks": ["GET", "/webhooks"],
    "getWebhook": ["GET", "/webhooks/{id}"],
    "listWebhookDeliveries": ["GET", "/webhooks/{id}/deliveries"],
    "retryWebhookDelivery": ["POST", "/webhooks/{id}/deliveries/{deliveryId}/retry"]
  },
  "queries": {
    "listTemplates": ["institutionId", "limit", "offset"],
    "listAssets": ["institutionId", "limit", "offset"],
    "listPositions": ["institutionId", "assetId", "holderReference", "limit", "offset"],
    "listLedger": ["positionId"],
    "listAudit": ["institutionId", "action", "outcome", "resourceType", "resourceId", "from", "to", "limit", "offset"],
    "listWebhooks": ["institutionId"],
    "listWebhookDeliveries": ["limit", "offset"]
  },
  "bodies": {
    "createInstitution": ["NewInstitution", ["name", "regions", "verticals"]],
    "createApiKey": ["NewApiKey", ["label", "role"]],
    "upsertPolicy": ["PolicyUpsert", ["position"]],
    "createTemplate": ["NewAssetTemplate", ["institutionId", "code", "name", "vertical", "region", "config"]],
    "createAsset": ["NewAsset", ["institutionId", "templateId", "label"]],
    "createPosition": ["NewPosition", ["institutionId", "assetId", "holderReference", "currency", "amount"]],
    "transitionPosition": ["TransitionRequest", ["toState", "reason"]]
  },
  "reads": {
    "Me": ["role", "canWrite", "institutionId"],
    "Error": ["error", "details"],
    "FieldError": ["field", "message"],
    "Pagination": ["total", "limit", "offset", "hasMore"],
    "Institution": ["id", "name", "regions", "verticals", "createdAt"],
    "ApiKey": ["id", "label", "role", "createdAt"],
    "CreatedApiKey": ["id", "apiKey"],
    "InstitutionPolicy": ["region", "config", "updatedAt"],
    "PositionPolicy": ["minAmount", "maxAmount", "allowedCurrencies"],
    "AssetTemplate": ["id", "institutionId", "code", "name", "vertical", "region", "config", "createdAt"],
    "Asset": ["id", "institutionId", "templateId", "label", "createdAt"],
    "Position": ["id", "institutionId", "assetId", "holderReference", "currency", "amount", "state", "externalReference", "createdAt", "updatedAt", "events"],
    "PositionLifecycleEvent": ["id", "fromState", "toState", "reason", "at"],
    "LedgerEvent": ["id", "kind", "positionId", "at", "previousState", "newState", "hash"],
    "AuditEvent": ["id", "occurredAt", "method", "path", "action", "outcome", "resourceType", "resourceId", "statusCode"],
    "Lifecycle": ["states", "transitions"],
    "TemplateRules": ["verticals", "regions", "currencies", "codes"],
    "Webhook": ["id", "institutionId", "url", "eventTypes", "enabled", "description", "createdAt"],
    "WebhookDelivery": ["id", "eventId", "eventType", "status", "attempts", "lastStatusCode", "lastError", "nextAttemptAt", "updatedAt"]
  },
  "optionalReads": {
    "LedgerEvent": ["onChainStatus"]
  }
};
