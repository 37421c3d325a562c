//! Sessions and payloads the session suite saves.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::session::{Session, SessionState};

/// A payload shaped like a SmallTalk session: two agents with histories, `turns` turns.
pub fn conversation(turns: usize) -> Value {
    let history: Vec<Value> = (1..=turns)
        .map(|n| {
            json!({
                "sequence": n,
                "timestamp": "2026-11-21T10:00:00.123Z",
                "userMessage": format!("question number {n}, with some padding text to be realistic"),
                "agentResponses": [{"agentId": "agent-1", "response": format!("answer {n}")}],
            })
        })
        .collect();
    json!({
        "agentIds": ["agent-1", "agent-2"],
        "agentStates": {
            "agent-1": {
                "config": {"model": "gpt-4o-mini", "temperature": 0.7},
                "context": {"topic": "escrow", "_metadata": {"topic": {"trimmable": true}}},
                "messageHistory": [{"sequence": 1}, {"sequence": 2}],
            },
            "agent-2": {"config": {"model": "other"}, "context": {}, "messageHistory": []},
        },
        "conversationHistory": history,
        "sharedContext": {"nested": {"deep": [1, 2, {"x": null}]}, "unicode": "żółw ✓"},
        "metadata": {"userId": "u-1", "tags": ["a", "b"]},
    })
}

/// A new session (version 0) in `state` with a small conversation and the given `updated_at`.
pub fn session_at(id: &str, state: SessionState, updated_at: DateTime<Utc>) -> Session {
    let mut session = Session::new(id, state, conversation(3));
    session.created_at = updated_at;
    session.updated_at = updated_at;
    session
}

/// A new session (version 0) in `state`, updated now.
pub fn session(id: &str, state: SessionState) -> Session {
    Session::new(id, state, conversation(3))
}
