//! One `TestApp` method per endpoint.

use serde_json::Value;

use super::{Reply, TestApp};

impl TestApp {
    pub async fn create_institution(&self, key: &str, body: Value) -> Reply {
        self.post("/institutions").key(key).json(&body).send().await
    }

    pub async fn list_institutions(&self, key: &str) -> Reply {
        self.get("/institutions").key(key).send().await
    }

    pub async fn get_institution(&self, key: &str, id: &str) -> Reply {
        self.get(&format!("/institutions/{id}"))
            .key(key)
            .send()
            .await
    }

    pub async fn create_api_key(&self, key: &str, institution: &str, body: Value) -> Reply {
        self.post(&format!("/institutions/{institution}/api-keys"))
            .key(key)
            .json(&body)
            .send()
            .await
    }

    pub async fn list_api_keys(&self, key: &str, institution: &str) -> Reply {
        self.get(&format!("/institutions/{institution}/api-keys"))
            .key(key)
            .send()
            .await
    }

    pub async fn revoke_api_key(&self, key: &str, institution: &str, key_id: &str) -> Reply {
        self.post(&format!(
            "/institutions/{institution}/api-keys/{key_id}/revoke"
        ))
        .key(key)
        .send()
        .await
    }

    pub async fn list_policies(&self, key: &str, institution: &str) -> Reply {
        self.get(&format!("/institutions/{institution}/policies"))
            .key(key)
            .send()
            .await
    }

    pub async fn get_policy(&self, key: &str, institution: &str, region: &str) -> Reply {
        self.get(&format!("/institutions/{institution}/policies/{region}"))
            .key(key)
            .send()
            .await
    }

    pub async fn put_policy(
        &self,
        key: &str,
        institution: &str,
        region: &str,
        body: Value,
    ) -> Reply {
        self.put(&format!("/institutions/{institution}/policies/{region}"))
            .key(key)
            .json(&body)
            .send()
            .await
    }

    pub async fn create_template(&self, key: &str, body: Value) -> Reply {
        self.post("/asset-templates")
            .key(key)
            .json(&body)
            .send()
            .await
    }

    pub async fn get_template(&self, key: &str, id: &str) -> Reply {
        self.get(&format!("/asset-templates/{id}"))
            .key(key)
            .send()
            .await
    }

    pub async fn create_asset(&self, key: &str, body: Value) -> Reply {
        self.post("/assets").key(key).json(&body).send().await
    }

    pub async fn get_asset(&self, key: &str, id: &str) -> Reply {
        self.get(&format!("/assets/{id}")).key(key).send().await
    }

    pub async fn create_position(&self, key: &str, body: Value) -> Reply {
        self.post("/positions").key(key).json(&body).send().await
    }

    pub async fn get_position(&self, key: &str, id: &str) -> Reply {
        self.get(&format!("/positions/{id}")).key(key).send().await
    }

    pub async fn transition(&self, key: &str, id: &str, body: Value) -> Reply {
        self.post(&format!("/positions/{id}/transition"))
            .key(key)
            .json(&body)
            .send()
            .await
    }

    pub async fn ledger_events(&self, key: &str, query: &str) -> Reply {
        self.get(&format!("/ledger-events{query}"))
            .key(key)
            .send()
            .await
    }

    pub async fn audit_events(&self, key: &str, query: &str) -> Reply {
        self.get(&format!("/audit-events{query}"))
            .key(key)
            .send()
            .await
    }

    pub async fn health(&self) -> Reply {
        self.get("/health").send().await
    }

    pub async fn ready(&self) -> Reply {
        self.get("/ready").send().await
    }

    pub async fn list_templates(&self, key: &str, query: &str) -> Reply {
        self.get(&format!("/asset-templates{query}"))
            .key(key)
            .send()
            .await
    }

    pub async fn list_assets(&self, key: &str, query: &str) -> Reply {
        self.get(&format!("/assets{query}")).key(key).send().await
    }

    pub async fn list_positions(&self, key: &str, query: &str) -> Reply {
        self.get(&format!("/positions{query}"))
            .key(key)
            .send()
            .await
    }

    pub async fn metrics(&self, key: &str) -> Reply {
        self.get("/metrics").key(key).send().await
    }

    pub async fn metrics_prometheus(&self, key: &str) -> Reply {
        self.get("/metrics/prometheus").key(key).send().await
    }

    pub async fn openapi(&self, key: &str) -> Reply {
        self.get("/openapi.json").key(key).send().await
    }

    pub async fn docs(&self, key: &str) -> Reply {
        self.get("/docs").key(key).send().await
    }
}
